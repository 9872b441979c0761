import { resolve } from 'node:path';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { Services } from '../api/handler.ts';
import { memoryLruCache, redisCache } from './cache.ts';
import { DEFAULT_DIMENSIONS, bedrockEmbedder, localEmbedder, type Embedder } from './embedding.ts';
import { TenantKeys, kmsKeyWrapper, localKeyWrapper } from './keys.ts';
import { embeddingColumn } from './store.ts';
import type { MemoryServices } from './types.ts';
import { intSetting } from '../commons/config.ts';

export interface MemoryServiceOptions {
  /** SDK clients to use instead of new ones (tests mock the SDK; these are for other regions or credentials). */
  readonly kms?: KMSClient;
  readonly bedrock?: BedrockRuntimeClient;
}

/**
 * Memory's services from the environment (`base.env`):
 * - REDIS_URL: the Redis cache (a `redis://` URL, or a unix socket path); unset means an in-process LRU
 *   (one process only). MEMORY_REDIS_COMMAND_TIMEOUT_MS (300): longest wait for one command before the
 *   cache is skipped; MEMORY_REDIS_READY_TIMEOUT_MS (1000): longest wait for the connection at start.
 * - MEMORY_KMS_KEY_ID: the KMS key that wraps tenant data keys (AWS); unset means a local key file
 *   `<LOGLINEOS_DATA_DIR>/keys/memory-master.key`, made with mode 0600 on first use.
 * - MEMORY_EMBEDDINGS `bedrock` | `local` (default bedrock on Lambda, local elsewhere),
 *   MEMORY_EMBEDDING_MODEL (default amazon.titan-embed-text-v1), MEMORY_EMBEDDING_DIMENSIONS (1536).
 * - MEMORY_VECTOR_SEARCH `auto` | `exact` (exact forces the no-pgvector path), MEMORY_HNSW_EF_SEARCH (100),
 *   MEMORY_MIN_SIMILARITY (0.2), MEMORY_CACHE_SECONDS (300).
 */
export async function createMemoryServices(base: Services, options: MemoryServiceOptions = {}): Promise<MemoryServices & { close(): Promise<void> }> {
  const env = base.env;
  const dimensions = intSetting(env, 'MEMORY_EMBEDDING_DIMENSIONS', DEFAULT_DIMENSIONS);
  const embedder = makeEmbedder(env, dimensions, options);
  const wrapper = env.MEMORY_KMS_KEY_ID ? kmsKeyWrapper(env.MEMORY_KMS_KEY_ID, options.kms) : localKeyWrapper(resolve(env.LOGLINEOS_DATA_DIR ?? '.data'));
  const column = await embeddingColumn(base.ledger.db);
  const mode = env.MEMORY_VECTOR_SEARCH ?? 'auto';
  if (mode !== 'auto' && mode !== 'exact') throw new Error(`MEMORY_VECTOR_SEARCH must be auto or exact, got ${JSON.stringify(mode)}`);
  const cache = env.REDIS_URL
    ? redisCache(env.REDIS_URL, { commandTimeoutMs: intSetting(env, 'MEMORY_REDIS_COMMAND_TIMEOUT_MS', 300), readyTimeoutMs: intSetting(env, 'MEMORY_REDIS_READY_TIMEOUT_MS', 1000) })
    : memoryLruCache();
  // Commands are not queued while connecting; wait briefly so the first requests can use the cache.
  await cache.ready();
  return {
    ledger: base.ledger,
    publisher: base.publisher,
    memory: {
      embedder,
      keys: new TenantKeys(base.ledger.db, wrapper),
      cache,
      vectorSearch: column === 'vector' && mode === 'auto' && dimensions === 1536 ? 'hnsw' : 'exact',
      embeddingColumn: column,
      minSimilarity: similarity(env),
      efSearch: intSetting(env, 'MEMORY_HNSW_EF_SEARCH', 100),
      cacheSeconds: intSetting(env, 'MEMORY_CACHE_SECONDS', 300),
    },
    close: () => cache.close(),
  };
}

function makeEmbedder(env: NodeJS.ProcessEnv, dimensions: number, options: MemoryServiceOptions): Embedder {
  const kind = env.MEMORY_EMBEDDINGS ?? (env.AWS_LAMBDA_FUNCTION_NAME ? 'bedrock' : 'local');
  if (kind === 'local') return localEmbedder(dimensions);
  if (kind === 'bedrock') {
    return bedrockEmbedder({ modelId: env.MEMORY_EMBEDDING_MODEL ?? 'amazon.titan-embed-text-v1', dimensions, ...(options.bedrock ? { client: options.bedrock } : {}) });
  }
  throw new Error(`MEMORY_EMBEDDINGS must be bedrock or local, got ${JSON.stringify(kind)}`);
}

function similarity(env: NodeJS.ProcessEnv): number {
  const raw = env.MEMORY_MIN_SIMILARITY;
  const value = raw === undefined || raw === '' ? 0.2 : Number(raw);
  if (!Number.isFinite(value) || value < -1 || value > 1) throw new Error(`MEMORY_MIN_SIMILARITY must be a number from -1 to 1, got ${JSON.stringify(raw)}`);
  return value;
}
