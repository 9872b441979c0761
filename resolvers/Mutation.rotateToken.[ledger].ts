// Mutation.rotateToken: served by the ledger Lambda (functions/api/ledger/Mutation.rotateToken.ts).
export { request, response } from './lib/direct-lambda.ts';
