// Query.spans: served by the ledger Lambda (functions/api/ledger/Query.spans.ts).
export { request, response } from './lib/direct-lambda.ts';
