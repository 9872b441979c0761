// Mutation.defineKernel: served by the kernels Lambda (functions/api/kernels/Mutation.defineKernel.ts).
export { request, response } from './lib/direct-lambda.ts';
