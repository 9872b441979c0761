// Query.span: served by the ledger Lambda (functions/api/ledger/Query.span.ts).
export { request, response } from './lib/direct-lambda.ts';
