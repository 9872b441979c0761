// Query.memory: served by the memory Lambda (functions/api/memory/Query.memory.ts).
export { request, response } from './lib/direct-lambda.ts';
