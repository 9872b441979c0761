// Mutation.revokeApp: served by the ledger Lambda (functions/api/ledger/Mutation.revokeApp.ts).
export { request, response } from './lib/direct-lambda.ts';
