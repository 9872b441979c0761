// Mutation.registerDevice: served by the ledger Lambda (functions/api/ledger/Mutation.registerDevice.ts).
export { request, response } from './lib/direct-lambda.ts';
