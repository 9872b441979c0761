import type { Operations } from '../handler.ts';
import bootKernel from './Mutation.bootKernel.ts';
import defineKernel from './Mutation.defineKernel.ts';
import publishManifest from './Mutation.publishManifest.ts';
import runKernel from './Mutation.runKernel.ts';
import scheduleKernel from './Mutation.scheduleKernel.ts';
import executions from './Query.executions.ts';
import kernel from './Query.kernel.ts';
import kernels from './Query.kernels.ts';
import manifest from './Query.manifest.ts';
import type { KernelsServices } from './services.ts';

/** The fields the `kernels` data source serves, by schema coordinate. */
export const KERNELS_OPERATIONS: Operations<KernelsServices> = {
  'Query.kernel': kernel,
  'Query.kernels': kernels,
  'Query.executions': executions,
  'Query.manifest': manifest,
  'Mutation.defineKernel': defineKernel,
  'Mutation.runKernel': runKernel,
  'Mutation.scheduleKernel': scheduleKernel,
  'Mutation.bootKernel': bootKernel,
  'Mutation.publishManifest': publishManifest,
};
