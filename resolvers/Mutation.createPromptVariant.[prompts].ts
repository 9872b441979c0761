// Mutation.createPromptVariant: served by the prompts Lambda (functions/api/prompts/Mutation.createPromptVariant.ts).
export { request, response } from './lib/direct-lambda.ts';
