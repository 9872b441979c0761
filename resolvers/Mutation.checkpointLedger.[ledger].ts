// Mutation.checkpointLedger: served by the ledger Lambda (functions/api/ledger/Mutation.checkpointLedger.ts).
export { request, response } from './lib/direct-lambda.ts';
