// Query.searchMemories: served by the memory Lambda (functions/api/memory/Query.searchMemories.ts).
export { request, response } from './lib/direct-lambda.ts';
