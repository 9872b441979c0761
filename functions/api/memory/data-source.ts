import type { DataSourceDefinition, Services } from '../handler.ts';
import { createMemoryServices, type MemoryServices } from '../../memory/index.ts';
import { MEMORY_OPERATIONS } from './operations.ts';

export type MemoryDataSourceServices = Services & MemoryServices;

/** The `memory` data source: consented, encrypted, searchable memories (SPEC §5). */
export const MEMORY_DATA_SOURCE: DataSourceDefinition<MemoryDataSourceServices> = {
  operations: MEMORY_OPERATIONS,
  async services(base) {
    const memory = await createMemoryServices(base);
    return { ...base, ...memory };
  },
};
