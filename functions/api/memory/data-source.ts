import type { DataSourceDefinition, Services } from '../handler.ts';
import { createMemoryServices, type MemoryServices } from '../../memory/index.ts';
import { startReaper } from '../../memory/reaper.ts';
import { MEMORY_OPERATIONS } from './operations.ts';

export type MemoryDataSourceServices = Services & MemoryServices;

/** The `memory` data source: consented, encrypted, searchable memories (SPEC §5). */
export const MEMORY_DATA_SOURCE: DataSourceDefinition<MemoryDataSourceServices> = {
  operations: MEMORY_OPERATIONS,
  async services(base) {
    const memory = await createMemoryServices(base);
    // Hosted by the local server: reap expired memories in process (MEMORY_REAPER_INTERVAL_SECONDS,
    // default 300, 0 turns it off). On Lambda a schedule runs memory/reaper.handler.ts instead.
    const seconds = Number(base.env.MEMORY_REAPER_INTERVAL_SECONDS ?? 300);
    const reaper = base.env.AWS_LAMBDA_FUNCTION_NAME || !(seconds > 0) ? undefined : startReaper(memory, seconds);
    return {
      ...base,
      ...memory,
      async close() {
        await reaper?.stop();
        await memory.close();
      },
    };
  },
};
