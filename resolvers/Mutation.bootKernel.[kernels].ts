// Mutation.bootKernel: served by the kernels Lambda (functions/api/kernels/Mutation.bootKernel.ts).
export { request, response } from './lib/direct-lambda.ts';
