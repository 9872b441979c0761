// Mutation.updateApp: served by the ledger Lambda (functions/api/ledger/Mutation.updateApp.ts).
export { request, response } from './lib/direct-lambda.ts';
