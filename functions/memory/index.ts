export { createMemoryServices, type MemoryServiceOptions } from './services.ts';
export { searchMemories, RRF_K } from './search.ts';
export { upsertMemory } from './upsert.ts';
export { forgetMemory, forgetSession, getMemory, promoteMemory, reapExpiredMemories, sessionMemories } from './lifecycle.ts';
export { CONSENT_HEADER, SESSION_HEADER, MemoryDisabledError, type MemoryInput } from './validate.ts';
export { EncryptionUnavailableError } from './keys.ts';
export { localEmbedder, bedrockEmbedder, hashEmbedding, type Embedder } from './embedding.ts';
export {
  SCOPE_SCORES,
  type Identity,
  type MemoryHit,
  type MemoryRuntime,
  type MemoryScope,
  type MemoryServices,
  type MemoryView,
  type SearchRequest,
} from './types.ts';
