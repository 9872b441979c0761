// Mutation.revokeToken: served by the ledger Lambda (functions/api/ledger/Mutation.revokeToken.ts).
export { request, response } from './lib/direct-lambda.ts';
