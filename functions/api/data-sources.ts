import type { DataSourceDefinition, Services } from './handler.ts';
import { LEDGER_DATA_SOURCE } from './ledger/data-source.ts';
import { MEMORY_DATA_SOURCE } from './memory/data-source.ts';
import { KERNELS_DATA_SOURCE } from './kernels/data-source.ts';
import { PROMPTS_DATA_SOURCE } from './prompts/data-source.ts';

/**
 * Every Lambda data source by the name its resolver files use (`Type.field.[name].ts`). On AWS each
 * is its own function (`functions/api/<name>.handler.ts`); the local server hosts them all. A test
 * checks each one serves exactly the fields whose resolvers name it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each data source extends Services its own way
export const DATA_SOURCES: Readonly<Record<string, DataSourceDefinition<any>>> = {
  ledger: LEDGER_DATA_SOURCE,
  memory: MEMORY_DATA_SOURCE,
  kernels: KERNELS_DATA_SOURCE,
  prompts: PROMPTS_DATA_SOURCE,
};

export type { DataSourceDefinition, Services };
