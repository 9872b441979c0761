// Query.executions: served by the kernels Lambda (functions/api/kernels/Query.executions.ts).
export { request, response } from './lib/direct-lambda.ts';
