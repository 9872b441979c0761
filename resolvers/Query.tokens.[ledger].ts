// Query.tokens: served by the ledger Lambda (functions/api/ledger/Query.tokens.ts).
export { request, response } from './lib/direct-lambda.ts';
