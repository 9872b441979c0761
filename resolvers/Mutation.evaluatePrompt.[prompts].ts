// Mutation.evaluatePrompt: served by the prompts Lambda (functions/api/prompts/Mutation.evaluatePrompt.ts).
export { request, response } from './lib/direct-lambda.ts';
