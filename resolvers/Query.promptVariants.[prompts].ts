// Query.promptVariants: served by the prompts Lambda (functions/api/prompts/Query.promptVariants.ts).
export { request, response } from './lib/direct-lambda.ts';
