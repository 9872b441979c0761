// Mutation.scheduleKernel: served by the kernels Lambda (functions/api/kernels/Mutation.scheduleKernel.ts).
export { request, response } from './lib/direct-lambda.ts';
