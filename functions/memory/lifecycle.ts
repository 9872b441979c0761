import type { Identity, Queryable } from '../commons/db/index.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../commons/errors.ts';
import { publishCommitted } from '../commons/publisher.ts';
import { appendSpanInSession, isUuid, spanFromRow, type Span } from '../ledger/index.ts';
import { toMemoryView } from './content.ts';
import { dropIndexRow, readMemories, readMemory, saltOf, sessionMemoryIds } from './store.ts';
import { SESSION_TTL_SECONDS, isEncrypted, type MemoryServices, type MemoryView } from './types.ts';
import { affectedBy } from './cache.ts';
import { auditInput } from './upsert.ts';
import { countMetric } from '../commons/observability-metrics.ts';
import { requireSignedIn } from '../commons/identity.ts';

const REVIEWER_GROUPS = ['reviewer', 'admin'];

/**
 * What is cached of a memory: its span as stored (a secret's content stays ciphertext). Never the
 * key salt: it is read from the database on every decrypt, so a forgotten memory (salt deleted) can
 * never be opened from a stale entry.
 */
interface CachedMemory {
  readonly span: Span;
}

const isLive = (span: Span, now = Date.now()) => !span.isDeleted && (span.expiresAt === null || Date.parse(span.expiresAt) > now);

function requireId(id: string): string {
  if (!isUuid(id)) throw new ValidationError('id', id, 'must be a UUID', 'Send the memory id (8-4-4-4-12 hex digits).');
  return id.toLowerCase();
}

const requireCaller = (identity: Identity | null): Identity => requireSignedIn(identity, 'working with memories');

/**
 * One memory as the caller may see it, or null (none, not theirs to read, forgotten or expired).
 * Cached per tenant and user as stored (ciphertext stays ciphertext); memories of other tenants
 * (public ones) are not cached, since their tenant's changes could not invalidate this caller's key.
 */
export async function getMemory(services: MemoryServices, identity: Identity | null, id: string): Promise<MemoryView | null> {
  const caller = requireCaller(identity);
  const memoryId = requireId(id);
  const { cache, cacheSeconds, keys } = services.memory;
  const cached = await cache.read<CachedMemory | null>(caller, `m:${memoryId}`);
  countMetric(cached.value === undefined ? 'MemoryCacheMisses' : 'MemoryCacheHits');
  let entry = cached.value;
  let salt: Buffer | null | undefined;
  if (entry === undefined) {
    const found = await services.ledger.db.withSession(caller, (tx) => readMemory(tx, memoryId));
    entry = found ? { span: found.span } : null;
    salt = found?.salt ?? null;
    if (entry && entry.span.tenantId === caller.tenantId) await cache.write(caller, `m:${memoryId}`, entry, cached.epoch, cacheSeconds);
  }
  if (!entry || !isLive(entry.span)) return null;
  if (isEncrypted(entry.span.sensitivity)) {
    salt ??= await services.ledger.db.withSession(caller, (tx) => saltOf(tx, memoryId));
    // No salt: forgotten since the entry was cached (the index row goes with the forget).
    if (salt === null) return null;
  }
  return toMemoryView(keys, entry.span, salt ?? null, caller.userId);
}

/** The caller's live memories of one session, through the cached session index (24 h). */
export async function sessionMemories(services: MemoryServices, identity: Identity | null, sessionId: string): Promise<MemoryView[]> {
  const caller = requireCaller(identity);
  if (typeof sessionId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(sessionId)) {
    throw new ValidationError('sessionId', sessionId, 'must be 1 to 128 letters, digits, ., _, : or -', 'Send the session id you remembered with.');
  }
  const { cache } = services.memory;
  const cached = await cache.read<string[]>(caller, `s:${sessionId}`);
  countMetric(cached.value === undefined ? 'MemoryCacheMisses' : 'MemoryCacheHits');
  let ids = cached.value;
  if (ids === undefined) {
    ids = await services.ledger.db.withSession(caller, (tx) => sessionMemoryIds(tx, sessionId));
    await cache.write(caller, `s:${sessionId}`, ids, cached.epoch, SESSION_TTL_SECONDS);
  }
  const views = await Promise.all(ids.map((id) => getMemory(services, caller, id)));
  return views.filter((view): view is MemoryView => view !== null);
}

/**
 * Forgets a memory of the caller's: a redaction version (is_deleted, content dropped) and the index
 * row deleted (text vector, embedding and the salt of its key: older versions' ciphertext can no
 * longer be opened), with an audit span, in one transaction.
 */
export async function forgetMemory(services: MemoryServices, identity: Identity | null, id: string): Promise<MemoryView> {
  const caller = requireCaller(identity);
  const memoryId = requireId(id);
  const { forgotten, spans } = await services.ledger.db.withSession(caller, async (tx) => {
    const found = await readMemory(tx, memoryId);
    if (!found) throw new NotFoundError(`memory ${memoryId} does not exist or you cannot read it.`, { id: memoryId });
    if (found.span.ownerId !== caller.userId) throw new ForbiddenError(`memory ${memoryId} belongs to another user; only its owner can forget it.`, { id: memoryId });
    if (found.span.isDeleted) return { forgotten: found.span, spans: [] };
    const written = await redact(services, tx, caller, found.span, 'forgot', 'memory');
    return { forgotten: written[0]!, spans: written };
  });
  await afterChange(services, forgotten.tenantId, spans);
  return toMemoryView(services.memory.keys, forgotten, null, caller.userId);
}

/** Forgets every live memory of one of the caller's sessions; returns their ids. */
export async function forgetSession(services: MemoryServices, identity: Identity | null, sessionId: string): Promise<string[]> {
  const caller = requireCaller(identity);
  if (typeof sessionId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(sessionId)) {
    throw new ValidationError('sessionId', sessionId, 'must be 1 to 128 letters, digits, ., _, : or -', 'Send the session id you remembered with.');
  }
  const { ids, spans } = await services.ledger.db.withSession(caller, async (tx) => {
    const ids = await sessionMemoryIds(tx, sessionId);
    const spans: Span[] = [];
    for (const { span } of await readMemories(tx, ids)) spans.push(...(await redact(services, tx, caller, span, 'forgot', 'memory', { sessionForgotten: sessionId })));
    return { ids, spans };
  });
  await afterChange(services, caller.tenantId, spans);
  return ids;
}

/** Temporary → permanent, by a member of the reviewer or admin group of the memory's tenant who can read it. */
export async function promoteMemory(services: MemoryServices, identity: Identity | null, id: string): Promise<MemoryView> {
  const caller = requireCaller(identity);
  const memoryId = requireId(id);
  if (!caller.groups?.some((group) => REVIEWER_GROUPS.includes(group))) {
    throw new ForbiddenError('promoting a memory needs the reviewer or admin group', { fix: 'Ask an administrator to add you to the reviewer group.' });
  }
  if (caller.tenantId === null) {
    throw new ForbiddenError('promoting a memory needs a caller in a tenant: a reviewer promotes only their own tenant\'s memories', { fix: 'Sign in with a user of the memory\'s tenant.' });
  }
  const found = await services.ledger.db.withSession(caller, (tx) => readMemory(tx, memoryId));
  if (!found || !isLive(found.span)) throw new NotFoundError(`memory ${memoryId} does not exist, is forgotten or expired, or you cannot read it.`, { id: memoryId });
  // Reading is not enough (another tenant's public memory is readable): a reviewer reviews their own tenant.
  if (found.span.tenantId !== caller.tenantId) {
    throw new ForbiddenError(`memory ${memoryId} belongs to another tenant; a reviewer promotes only their own tenant's memories.`, { id: memoryId });
  }
  if (found.span.layer !== 'temporary') {
    throw new ValidationError('id', memoryId, `is a ${String(found.span.layer)} memory; only temporary memories are promoted`, 'Promote a temporary memory.');
  }
  // The new version is the owner's (a span keeps its owner); who did it is the reviewer.
  const owner: Identity = { userId: found.span.ownerId, tenantId: found.span.tenantId };
  const { span, spans } = await services.ledger.db.withSession(owner, async (tx) => {
    const { prevHash, currHash, signature, publicKey, sigAlg, sigKeyId, chainKey, chainSeq, chainHash, position, txId, recordedAt, ...rest } = found.span;
    void [prevHash, currHash, signature, publicKey, sigAlg, sigKeyId, chainKey, chainSeq, chainHash, position, txId, recordedAt];
    const promoted = await appendSpanInSession(tx, owner, { ...rest, seq: found.span.seq + 1, at: new Date().toISOString(), who: `user:${caller.userId}`, did: 'promoted', layer: 'permanent', ttlSeconds: null, expiresAt: null }, services.ledger.signer);
    const audit = await appendSpanInSession(tx, owner, auditInput(promoted, 'promoted', { reviewer: caller.userId, from: 'temporary', to: 'permanent' }, `user:${caller.userId}`), services.ledger.signer);
    return { span: promoted, spans: [promoted, audit] };
  });
  await afterChange(services, span.tenantId, spans);
  return toMemoryView(services.memory.keys, span, found.salt, caller.userId);
}

/**
 * Forgets memories whose TTL has passed (reads already hide them; this drops their content and
 * index rows). Runs as the ledger role to find them and as each owner to redact. Returns how many.
 */
export async function reapExpiredMemories(services: MemoryServices, limit = 500): Promise<number> {
  const rows = await services.ledger.db.withLedger((tx) =>
    tx.query(
      // Latest versions only: a reaped memory's redaction version has no expiry, so it drops out.
      `select r.* from ledger.universal_registry r
        where r.entity_type = 'memory' and r.expires_at <= now() and not r.is_deleted
          and not exists (select 1 from ledger.universal_registry n where n.id = r.id and n.seq > r.seq)
        order by r.expires_at limit $1`,
      [limit],
    ),
  );
  let reaped = 0;
  for (const row of rows) {
    const expired = spanFromRow(row);
    const owner: Identity = { userId: expired.ownerId, tenantId: expired.tenantId };
    try {
      const spans = await services.ledger.db.withSession(owner, (tx) => redact(services, tx, owner, expired, 'expired', 'memory:reaper'));
      await afterChange(services, expired.tenantId, spans);
      reaped += 1;
    } catch (error) {
      // Usually the owner wrote a new version meanwhile; the next pass sees that version.
      console.warn(JSON.stringify({ level: 'warn', message: 'reaping an expired memory failed; retried next pass', id: expired.id, error: error instanceof Error ? error.message : String(error) }));
    }
  }
  return reaped;
}

async function redact(services: MemoryServices, tx: Queryable, identity: Identity, span: Span, action: string, who: string, details: Record<string, unknown> = {}): Promise<Span[]> {
  const redacted = await appendSpanInSession(
    tx,
    identity,
    {
      id: span.id,
      seq: span.seq + 1,
      entityType: 'memory',
      who,
      did: action,
      this: span.this,
      visibility: span.visibility,
      status: 'forgotten',
      isDeleted: true,
      layer: span.layer,
      memoryType: span.memoryType,
      sensitivity: span.sensitivity,
      sessionId: span.sessionId,
      tags: span.tags,
    },
    services.ledger.signer,
  );
  await dropIndexRow(tx, span.id);
  const audit = await appendSpanInSession(tx, identity, auditInput(redacted, action, details, who), services.ledger.signer);
  return [redacted, audit];
}

async function afterChange(services: MemoryServices, tenantId: string | null, spans: readonly Span[]): Promise<void> {
  await services.memory.cache.invalidate(tenantId, affectedBy(spans));
  for (const span of spans) await publishCommitted(services.publisher, span);
}
