// Mutation.createPromptBlock: served by the prompts Lambda (functions/api/prompts/Mutation.createPromptBlock.ts).
export { request, response } from './lib/direct-lambda.ts';
