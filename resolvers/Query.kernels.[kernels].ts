// Query.kernels: served by the kernels Lambda (functions/api/kernels/Query.kernels.ts).
export { request, response } from './lib/direct-lambda.ts';
