import type { Operations } from '../handler.ts';
import type { MemoryDataSourceServices } from './data-source.ts';
import forgetMemory from './Mutation.forgetMemory.ts';
import forgetSession from './Mutation.forgetSession.ts';
import promoteMemory from './Mutation.promoteMemory.ts';
import upsertMemory from './Mutation.upsertMemory.ts';
import memory from './Query.memory.ts';
import searchMemories from './Query.searchMemories.ts';
import sessionMemories from './Query.sessionMemories.ts';

/** The fields the `memory` data source serves, by schema coordinate (as their files here and in resolvers/). */
export const MEMORY_OPERATIONS: Operations<MemoryDataSourceServices> = {
  'Query.memory': memory,
  'Query.searchMemories': searchMemories,
  'Query.sessionMemories': sessionMemories,
  'Mutation.upsertMemory': upsertMemory,
  'Mutation.forgetMemory': forgetMemory,
  'Mutation.forgetSession': forgetSession,
  'Mutation.promoteMemory': promoteMemory,
};
