// Query.app: served by the ledger Lambda (functions/api/ledger/Query.app.ts).
export { request, response } from './lib/direct-lambda.ts';
