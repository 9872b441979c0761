// Query.manifest: served by the kernels Lambda (functions/api/kernels/Query.manifest.ts).
export { request, response } from './lib/direct-lambda.ts';
