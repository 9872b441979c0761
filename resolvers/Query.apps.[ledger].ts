// Query.apps: served by the ledger Lambda (functions/api/ledger/Query.apps.ts).
export { request, response } from './lib/direct-lambda.ts';
