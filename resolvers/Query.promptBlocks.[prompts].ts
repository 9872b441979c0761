// Query.promptBlocks: served by the prompts Lambda (functions/api/prompts/Query.promptBlocks.ts).
export { request, response } from './lib/direct-lambda.ts';
