// Query.verifySpan: served by the ledger Lambda (functions/api/ledger/Query.verifySpan.ts).
export { request, response } from './lib/direct-lambda.ts';
