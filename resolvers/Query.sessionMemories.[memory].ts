// Query.sessionMemories: served by the memory Lambda (functions/api/memory/Query.sessionMemories.ts).
export { request, response } from './lib/direct-lambda.ts';
