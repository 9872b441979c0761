import type { Operations } from '../handler.ts';
import type { PromptServices } from './data-source.ts';
import buildPrompt from './Mutation.buildPrompt.ts';
import createPromptBlock from './Mutation.createPromptBlock.ts';
import createPromptVariant from './Mutation.createPromptVariant.ts';
import evaluatePrompt from './Mutation.evaluatePrompt.ts';
import runPrompt from './Mutation.runPrompt.ts';
import selectVariant from './Mutation.selectVariant.ts';
import promptBlocks from './Query.promptBlocks.ts';
import promptVariants from './Query.promptVariants.ts';

/** The fields the `prompts` data source serves, by schema coordinate. */
export const PROMPTS_OPERATIONS: Operations<PromptServices> = {
  'Query.promptBlocks': promptBlocks,
  'Query.promptVariants': promptVariants,
  'Mutation.createPromptBlock': createPromptBlock,
  'Mutation.createPromptVariant': createPromptVariant,
  'Mutation.buildPrompt': buildPrompt,
  'Mutation.runPrompt': runPrompt,
  'Mutation.evaluatePrompt': evaluatePrompt,
  'Mutation.selectVariant': selectVariant,
};
