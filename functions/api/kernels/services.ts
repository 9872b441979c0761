import type { Services } from '../handler.ts';
import type { KernelServices } from '../../kernels/executor.ts';

/** What the kernels data source's operations use: the shared services, the warm sandbox, the model, background runs. */
export interface KernelsServices extends Services, KernelServices {
  /** Starts work that outlives the request (scheduled runs); the data source waits for it on close. */
  background(work: () => Promise<unknown>): void;
}
