// Query.timeline: served by the ledger Lambda (functions/api/ledger/Query.timeline.ts).
export { request, response } from './lib/direct-lambda.ts';
