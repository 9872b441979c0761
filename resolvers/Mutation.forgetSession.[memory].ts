// Mutation.forgetSession: served by the memory Lambda (functions/api/memory/Mutation.forgetSession.ts).
export { request, response } from './lib/direct-lambda.ts';
