import { reapExpiredMemories } from './lifecycle.ts';
import type { MemoryServices } from './types.ts';

/**
 * Runs the TTL reaper every `seconds` in this process (the local server; on AWS a schedule invokes
 * functions/api/memory/reaper.handler.ts instead). Reads hide expired memories anyway; the reaper
 * drops their content and index rows. A failed pass is logged and retried on the next tick.
 * `stop()` ends the ticks and resolves once a pass in progress has finished, so the caller can then
 * close the database safely.
 */
export function startReaper(services: MemoryServices, seconds: number): { stop(): Promise<void> } {
  let pass: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (pass) return;
    pass = reapAll(services)
      .then(() => undefined)
      .catch((error: unknown) => console.error(JSON.stringify({ level: 'error', message: 'memory reaper pass failed', error: error instanceof Error ? error.message : String(error) })))
      .finally(() => {
        pass = undefined;
      });
  }, seconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await pass;
    },
  };
}

/** Reaps in batches until no expired memory is left; returns how many. */
export async function reapAll(services: MemoryServices, batch = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const reaped = await reapExpiredMemories(services, batch);
    total += reaped;
    if (reaped < batch) return total;
  }
}
