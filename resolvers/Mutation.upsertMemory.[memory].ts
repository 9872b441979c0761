// Mutation.upsertMemory: served by the memory Lambda (functions/api/memory/Mutation.upsertMemory.ts).
export { request, response } from './lib/direct-lambda.ts';
