// Query.timelineHead: served by the ledger Lambda (functions/api/ledger/Query.timelineHead.ts).
export { request, response } from './lib/direct-lambda.ts';
