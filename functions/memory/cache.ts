import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Span } from '../ledger/index.ts';

/** Whose cache entry it is: every key carries the caller's tenant and user. */
export interface CacheScope {
  readonly tenantId: string | null;
  readonly userId: string;
}

/** A cached value, or only the tenant's epoch to write one under after reading the database. */
export interface CacheRead<T> {
  readonly value?: T;
  /** Undefined when the cache could not be asked: then nothing is written back either. */
  readonly epoch?: string;
}

/** What a change touched, so that a failed epoch bump can still remove the entries that would be stale. */
export interface Affected {
  /** Memories changed: their entries are dropped for every user of the tenant. */
  readonly memoryIds?: readonly string[];
  /** Session indexes changed (the owner's). */
  readonly sessions?: readonly { readonly userId: string; readonly sessionId: string }[];
}

/** The cache entries a change makes stale: the memories' own and their sessions' indexes. */
export function affectedBy(spans: readonly Span[]): Affected {
  const memories = spans.filter((span) => span.entityType === 'memory');
  return {
    memoryIds: [...new Set(memories.map((span) => span.id))],
    sessions: memories.flatMap((span) => (span.sessionId ? [{ userId: span.ownerId, sessionId: span.sessionId }] : [])),
  };
}

/**
 * Memory reads and session indexes, cached per tenant and user. Every entry is stamped with its
 * tenant's epoch as read *before* the database; a write or forget bumps the epoch *after* it commits,
 * so an entry filled from a snapshot older than a change can never be served after it. A cache that
 * cannot be reached is skipped: slower, never wrong, never an error.
 */
export interface MemoryCache {
  readonly kind: 'redis' | 'memory';
  read<T>(scope: CacheScope, key: string): Promise<CacheRead<T>>;
  write(scope: CacheScope, key: string, value: unknown, epoch: string | undefined, ttlSeconds: number): Promise<void>;
  /**
   * Called after a committed change in the tenant: every entry of the tenant is stale from now on.
   * When the epoch cannot be bumped, the affected entries are deleted if Redis lets us, and this
   * process starts a new cache generation (every entry of every tenant stale) before it reads the
   * cache again; until that succeeds it does not use the cache.
   */
  invalidate(tenantId: string | null, affected?: Affected): Promise<void>;
  /** Resolves once connected, or after `readyTimeoutMs` (default 1 s) if it cannot connect (never rejects). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

const PREFIX = 'llos:mem';
const tenantPart = (tenantId: string | null) => `t:${encodeURIComponent(tenantId ?? '')}`;
export const epochKey = (tenantId: string | null) => `${PREFIX}:${tenantPart(tenantId)}:epoch`;
/** Redis: the cache's generation, part of every entry's stamp (see redisCache). */
export const GENERATION_KEY = `${PREFIX}:generation`;
export const entryKey = (scope: CacheScope, key: string) => `${PREFIX}:${tenantPart(scope.tenantId)}:u:${encodeURIComponent(scope.userId)}:${key}`;
/** A SCAN pattern matching one key of every user of the tenant (glob characters in the tenant escaped). */
const everyUserKey = (tenantId: string | null, key: string) => `${PREFIX}:${tenantPart(tenantId).replace(/[*?[\]\\]/g, '\\$&')}:u:*:${key}`;

interface Stamped {
  readonly e: string;
  readonly v: unknown;
}

export function memoryLruCache(max = 10_000): MemoryCache {
  const entries = new LRUCache<string, Stamped>({ max, ttlAutopurge: false });
  const epochs = new Map<string, number>();
  return {
    kind: 'memory',
    read<T>(scope: CacheScope, key: string) {
      const epoch = String(epochs.get(epochKey(scope.tenantId)) ?? 0);
      const entry = entries.get(entryKey(scope, key));
      return Promise.resolve(entry && entry.e === epoch ? { value: entry.v as T, epoch } : { epoch });
    },
    write(scope, key, value, epoch, ttlSeconds) {
      if (epoch !== undefined) entries.set(entryKey(scope, key), { e: epoch, v: structuredClone(value) }, { ttl: ttlSeconds * 1000 });
      return Promise.resolve();
    },
    invalidate(tenantId) {
      const k = epochKey(tenantId);
      epochs.set(k, (epochs.get(k) ?? 0) + 1);
      return Promise.resolve();
    },
    ready: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

export interface RedisCacheOptions {
  /** Longest wait for one command before the cache is skipped (default 300 ms: a slow cache must not slow reads). */
  readonly commandTimeoutMs?: number;
  /** Longest wait in `ready()` for the connection (default 1 s). */
  readonly readyTimeoutMs?: number;
}

export function redisCache(url: string, options: RedisCacheOptions = {}): MemoryCache {
  const redis = new Redis(url, {
    // A command sent while disconnected fails at once instead of queueing: the caller goes to the database.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 300,
    connectTimeout: 1000,
    lazyConnect: false,
    retryStrategy: () => 1000,
  });
  let down = false;
  /*
   * Generations. An entry's stamp is `<generation>:<tenant epoch>`, and the epochs alone are not
   * enough once Redis has been away: a Redis restarted from a snapshot, or a replica promoted after
   * a failover, can come back with an older epoch *and* the entries stamped with it (a memory
   * forgotten after the snapshot would be served again; test/reliability/redis-outage.test.ts), and
   * a change made while Redis was unreachable could not bump its epoch at all (nor, if this process
   * then ends, be remembered by anyone). So whenever this process may have missed something (its
   * connection closed, or an invalidation failed) it writes a new random generation before it uses
   * the cache again: every entry written before, by any process, stops matching. The generation is
   * random, never a counter, so a Redis that lost it cannot hand an old one back by counting up again.
   * Until the new generation is written, this process reads and writes no entries (database only).
   * What is left: a process that missed an invalidation (a partition of its own) and ended before
   * Redis came back; its entries age out with MEMORY_CACHE_SECONDS. docs/reliability.md has the rest.
   */
  let suspicions = 0;
  let renewedUpTo = 0;
  let renewing: Promise<void> | null = null;
  const suspect = () => {
    suspicions += 1;
  };
  const trusted = () => renewedUpTo >= suspicions;
  const renewGeneration = () =>
    (renewing ??= (async () => {
      const upTo = suspicions;
      try {
        await redis.set(GENERATION_KEY, randomUUID());
        renewedUpTo = Math.max(renewedUpTo, upTo);
      } finally {
        renewing = null;
      }
    })());
  const bump = async (tenantId: string | null) => {
    await redis.incr(epochKey(tenantId));
  };
  const deleteAffected = async (tenantId: string | null, affected: Affected) => {
    const exact = (affected.sessions ?? []).map((session) => entryKey({ tenantId, userId: session.userId }, `s:${session.sessionId}`));
    if (exact.length > 0) await redis.del(...exact);
    for (const id of affected.memoryIds ?? []) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', everyUserKey(tenantId, `m:${id}`), 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  };
  const failed = (error: unknown) => {
    if (!down) {
      down = true;
      // The message only: never keys or values, which could name a tenant's data.
      console.warn(JSON.stringify({ level: 'warn', message: 'memory cache unreachable; reading the database instead', error: error instanceof Error ? error.message : String(error) }));
    }
  };
  redis.on('error', failed);
  // Closed: whatever happens until it is open again (a restart, a failover) this process cannot see.
  redis.on('close', suspect);
  redis.on('ready', () => {
    down = false;
  });
  return {
    kind: 'redis',
    async read<T>(scope: CacheScope, key: string): Promise<CacheRead<T>> {
      try {
        while (!trusted()) await renewGeneration();
        const [stored, epoch, raw] = await redis.mget(GENERATION_KEY, epochKey(scope.tenantId), entryKey(scope, key));
        let generation = stored;
        if (generation === null) {
          // A Redis that never had one, or lost its data: start one (NX: concurrent starters agree).
          await redis.set(GENERATION_KEY, randomUUID(), 'NX');
          generation = await redis.get(GENERATION_KEY);
          if (generation === null) return {};
        }
        const current = `${generation}:${epoch ?? '0'}`;
        if (raw) {
          const entry = JSON.parse(raw) as Stamped;
          if (entry.e === current) return { value: entry.v as T, epoch: current };
        }
        return { epoch: current };
      } catch (error) {
        failed(error);
        return {};
      }
    },
    async write(scope, key, value, epoch, ttlSeconds) {
      // An entry stamped before something was missed would only be unreadable once the generation is new.
      if (epoch === undefined || !trusted()) return;
      try {
        await redis.set(entryKey(scope, key), JSON.stringify({ e: epoch, v: value }), 'EX', ttlSeconds);
      } catch (error) {
        failed(error);
      }
    },
    async invalidate(tenantId, affected = {}) {
      try {
        await bump(tenantId);
        return;
      } catch (error) {
        failed(error);
      }
      // The epoch is unchanged, so entries filled before the change still look current: a new
      // generation before this process reads again, and the affected entries deleted now if Redis lets us.
      suspect();
      try {
        await deleteAffected(tenantId, affected);
      } catch (error) {
        failed(error);
      }
    },
    ready() {
      if (redis.status === 'ready') return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.readyTimeoutMs ?? 1000);
        function done() {
          clearTimeout(timer);
          redis.off('ready', done);
          resolve();
        }
        redis.once('ready', done);
      });
    },
    async close() {
      redis.disconnect();
      await Promise.resolve();
    },
  };
}
