import type { DataSourceDefinition } from '../handler.ts';
import { createSandbox, type Sandbox } from '../../kernels/sandbox/index.ts';
import { startKernelInterval } from '../../kernels/scheduled.ts';
import { providerFromEnv } from '../../models/index.ts';
import { KERNELS_OPERATIONS } from './operations.ts';
import { requestStarter } from './request-runs.ts';
import type { KernelsServices } from './services.ts';

/**
 * The `kernels` data source: the executor with a warm sandbox pool, started by the first run.
 * `LOGLINEOS_KERNEL_WORKERS` sizes the pool (default 4; runs nested by the core kernels get pools of their own, made on first use). `LOGLINEOS_KERNEL_INTERVAL_MS`
 * > 0 runs observer, request_worker and policy_agent on that interval in this process (the local
 * server; on AWS an EventBridge schedule invokes functions/api/kernels.handler.ts's `scheduled`).
 */
export const KERNELS_DATA_SOURCE: DataSourceDefinition<KernelsServices> = {
  operations: KERNELS_OPERATIONS,
  services: async (base) => {
    const workers = Number(base.env.LOGLINEOS_KERNEL_WORKERS ?? 4);
    // Made on the first run: a process (or test server) that never runs a kernel starts no worker.
    const sandbox = lazySandbox(() => createSandbox({ poolSize: Number.isInteger(workers) && workers > 0 ? workers : 4 }));
    // Pools for nested runs, made on first use: depth 1 (a core kernel's runFunction / evaluatePolicy) and deeper.
    const nested = new Map<number, Sandbox>();
    const nestedSandbox = (depth: number): Sandbox => {
      const level = Math.min(depth, 2);
      let pool = nested.get(level);
      if (!pool) nested.set(level, (pool = createSandbox({ poolSize: level === 1 ? 2 : 1 })));
      return pool;
    };
    const pending = new Set<Promise<unknown>>();
    const services: KernelsServices = {
      ...base,
      sandbox,
      nestedSandbox,
      models: providerFromEnv(base.env),
      background(work) {
        const running = work()
          .catch((error: unknown) => console.error(JSON.stringify({ level: 'error', message: 'background kernel run failed', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })))
          .finally(() => pending.delete(running));
        pending.add(running);
      },
      startRequest: (event) => start(event),
    };
    const start = requestStarter(base.env, services.background, () => services);
    const intervalMs = Number(base.env.LOGLINEOS_KERNEL_INTERVAL_MS ?? 0);
    const interval = Number.isFinite(intervalMs) && intervalMs > 0 ? startKernelInterval(services, intervalMs) : null;
    return {
      ...services,
      async close() {
        await interval?.stop();
        await Promise.allSettled([...pending]);
        await Promise.all([sandbox, ...nested.values()].map((pool) => pool.close()));
      },
    };
  },
};

/**
 * A sandbox whose pool `create` makes on the first run (and keeps warm from then on); closing one
 * that never ran starts nothing.
 */
export function lazySandbox(create: () => Sandbox): Sandbox {
  let pool: Sandbox | null = null;
  let closed = false;
  return {
    run(request) {
      if (closed) return Promise.resolve({ ok: false, error: { code: 'SandboxFailure', message: 'the sandbox is closed; create a new one' }, durationMs: 0, hostCalls: 0 });
      pool ??= create();
      return pool.run(request);
    },
    async close() {
      closed = true;
      await pool?.close();
    },
  };
}
