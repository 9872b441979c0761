// Mutation.appendSpan: served by the ledger Lambda (functions/api/ledger/Mutation.appendSpan.ts).
export { request, response } from './lib/direct-lambda.ts';
