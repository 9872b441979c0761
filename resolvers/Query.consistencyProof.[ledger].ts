// Query.consistencyProof: served by the ledger Lambda (functions/api/ledger/Query.consistencyProof.ts).
export { request, response } from './lib/direct-lambda.ts';
