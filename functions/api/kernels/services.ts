import type { Services } from '../handler.ts';
import type { KernelServices } from '../../kernels/executor.ts';
import type { KernelRequestEvent } from './request-runs.ts';

/** What the kernels data source's operations use: the shared services, the warm sandbox, the model, background runs. */
export interface KernelsServices extends Services, KernelServices {
  /** Starts work that outlives the request (scheduled runs); the data source waits for it on close. */
  background(work: () => Promise<unknown>): void;
  /** Starts a scheduled request's run without waiting for it (see request-runs.ts). */
  startRequest(event: Omit<KernelRequestEvent, 'type'>): Promise<void>;
}
