// Query.kernel: served by the kernels Lambda (functions/api/kernels/Query.kernel.ts).
export { request, response } from './lib/direct-lambda.ts';
