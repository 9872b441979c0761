// Mutation.issueToken: served by the ledger Lambda (functions/api/ledger/Mutation.issueToken.ts).
export { request, response } from './lib/direct-lambda.ts';
