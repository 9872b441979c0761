// Query.verifyLedger: served by the ledger Lambda (functions/api/ledger/Query.verifyLedger.ts).
export { request, response } from './lib/direct-lambda.ts';
