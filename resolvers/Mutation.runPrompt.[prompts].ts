// Mutation.runPrompt: served by the prompts Lambda (functions/api/prompts/Mutation.runPrompt.ts).
export { request, response } from './lib/direct-lambda.ts';
