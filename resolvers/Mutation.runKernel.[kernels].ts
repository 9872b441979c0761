// Mutation.runKernel: served by the kernels Lambda (functions/api/kernels/Mutation.runKernel.ts).
export { request, response } from './lib/direct-lambda.ts';
