// Query.inclusionProof: served by the ledger Lambda (functions/api/ledger/Query.inclusionProof.ts).
export { request, response } from './lib/direct-lambda.ts';
