import type { SpanPublisher } from '../commons/publisher.ts';
import type { Ledger } from '../ledger/index.ts';
import type { MemoryCache } from './cache.ts';
import type { Embedder } from './embedding.ts';
import type { TenantKeys } from './keys.ts';
import type { EmbeddingColumn } from './store.ts';

export const LAYERS = ['session', 'temporary', 'permanent', 'shared', 'local'] as const;
export const MEMORY_TYPES = ['note', 'fact', 'profile', 'preference', 'relationship', 'plan', 'action', 'other'] as const;
export const SENSITIVITIES = ['public', 'internal', 'secret', 'pii'] as const;
export const CONSENTS = ['off', 'session-only', 'on'] as const;
export const SCOPES = ['session', 'private', 'tenant', 'public'] as const;

export type Layer = (typeof LAYERS)[number];
export type MemoryType = (typeof MEMORY_TYPES)[number];
export type Sensitivity = (typeof SENSITIVITIES)[number];
export type Consent = (typeof CONSENTS)[number];
export type MemoryScope = (typeof SCOPES)[number];

/** SPEC §5: how much a hit's scope weighs. */
export const SCOPE_SCORES: Readonly<Record<MemoryScope, number>> = { session: 1.0, private: 0.8, tenant: 0.6, public: 0.4 };

export const SESSION_TTL_SECONDS = 24 * 60 * 60;
export const isEncrypted = (sensitivity: string | null): boolean => sensitivity === 'secret' || sensitivity === 'pii';

/** What the memory operations use beyond the ledger; built once by createMemoryServices. */
export interface MemoryRuntime {
  readonly embedder: Embedder;
  readonly keys: TenantKeys;
  readonly cache: MemoryCache;
  /** `hnsw`: pgvector with its index; `exact`: embeddings read as arrays and compared in the app. */
  readonly vectorSearch: 'hnsw' | 'exact';
  /** The embedding column this database has: pgvector's `vector`, or `real[]` without pgvector. */
  readonly embeddingColumn: EmbeddingColumn;
  /** Below this cosine similarity a vector neighbour is no match, only the least distant row (MEMORY_MIN_SIMILARITY, 0.2). */
  readonly minSimilarity: number;
  /** HNSW candidate list size (pgvector's hnsw.ef_search) for searches. */
  readonly efSearch: number;
  /** How long memory reads and session indexes stay cached. */
  readonly cacheSeconds: number;
}

/** Everything memory needs: the ledger, the live timeline, and its own runtime. */
export interface MemoryServices {
  readonly ledger: Ledger;
  readonly publisher: SpanPublisher;
  readonly memory: MemoryRuntime;
}

export interface SearchRequest {
  readonly query: string;
  readonly topK?: number | null;
  readonly sessionId?: string | null;
  readonly layers?: readonly string[] | null;
  readonly types?: readonly string[] | null;
  readonly tags?: readonly string[] | null;
  /** A query vector computed by the caller; otherwise the query text is embedded. */
  readonly embedding?: readonly number[] | null;
}

export interface MemoryHit {
  readonly spanId: string;
  readonly seq: number;
  readonly score: number;
  readonly scope: MemoryScope;
  readonly layer: string;
  readonly type: string;
  readonly sensitivity: string;
  readonly tags: readonly string[];
  /** Up to 200 characters of the text; `[encrypted]` for secret and pii to anyone but the owner. */
  readonly preview: string;
  /** The memory's content, or null when the caller may not read it in clear. */
  readonly content: unknown;
  readonly sessionId: string | null;
  readonly ownerId: string;
  readonly at: string;
}

/** A memory as the API shows it. */
export interface MemoryView {
  readonly id: string;
  readonly seq: number;
  readonly ownerId: string;
  readonly tenantId: string | null;
  readonly visibility: string;
  readonly layer: string;
  readonly type: string;
  readonly sensitivity: string;
  readonly tags: readonly string[];
  readonly schemaId: string | null;
  readonly sessionId: string | null;
  readonly ttlSeconds: number | null;
  readonly expiresAt: string | null;
  readonly at: string;
  readonly status: string;
  readonly encrypted: boolean;
  readonly preview: string;
  readonly content: unknown;
}
export type { Identity } from '../commons/db/index.ts';
