// Mutation.selectVariant: served by the prompts Lambda (functions/api/prompts/Mutation.selectVariant.ts).
export { request, response } from './lib/direct-lambda.ts';
