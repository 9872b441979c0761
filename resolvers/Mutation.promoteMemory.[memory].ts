// Mutation.promoteMemory: served by the memory Lambda (functions/api/memory/Mutation.promoteMemory.ts).
export { request, response } from './lib/direct-lambda.ts';
