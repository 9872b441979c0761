import { createMemoryServices, searchMemories } from '../../memory/index.ts';
import type { MemorySearch } from '../../prompts/index.ts';
import type { Services } from '../handler.ts';

/**
 * The memory search a run uses for its context: memory's own search, as the caller, so row-level
 * security and memory's sensitivity rules decide what a run may see.
 */
export async function memorySearchFrom(base: Services): Promise<{ search: MemorySearch; close: () => Promise<void> }> {
  const memory = await createMemoryServices(base);
  return {
    search: (identity, query) => searchMemories(memory, identity, { query: query.query, topK: query.topK, sessionId: query.sessionId }),
    close: () => memory.close(),
  };
}
