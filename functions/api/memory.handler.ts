import { lambdaEntry } from './lambda-entry.ts';
import { MEMORY_DATA_SOURCE } from './memory/data-source.ts';

/** Lambda entry of the `memory` data source. */
export const handler = lambdaEntry('memory', MEMORY_DATA_SOURCE);
