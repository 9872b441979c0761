// Mutation.registerApp: served by the ledger Lambda (functions/api/ledger/Mutation.registerApp.ts).
export { request, response } from './lib/direct-lambda.ts';
