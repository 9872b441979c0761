// Mutation.buildPrompt: served by the prompts Lambda (functions/api/prompts/Mutation.buildPrompt.ts).
export { request, response } from './lib/direct-lambda.ts';
