// Mutation.revokeDevice: served by the ledger Lambda (functions/api/ledger/Mutation.revokeDevice.ts).
export { request, response } from './lib/direct-lambda.ts';
