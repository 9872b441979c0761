// Mutation.forgetMemory: served by the memory Lambda (functions/api/memory/Mutation.forgetMemory.ts).
export { request, response } from './lib/direct-lambda.ts';
