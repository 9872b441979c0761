// Mutation.publishManifest: served by the kernels Lambda (functions/api/kernels/Mutation.publishManifest.ts).
export { request, response } from './lib/direct-lambda.ts';
