// Query.ledgerCheckpoint: served by the ledger Lambda (functions/api/ledger/Query.ledgerCheckpoint.ts).
export { request, response } from './lib/direct-lambda.ts';
