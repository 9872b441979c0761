import { randomUUID } from 'node:crypto';
import type { Identity } from '../commons/db/index.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../commons/errors.ts';
import { publishCommitted } from '../commons/publisher.ts';
import { appendSpanInSession, type Span } from '../ledger/index.ts';
import { ENC_ALG, memoryText, newSalt, previewOf, sealContent } from './content.ts';
import { affectedBy } from './cache.ts';
import { checkContract } from './contract.ts';
import { readMemory, writeIndexRow } from './store.ts';
import { isEncrypted, type MemoryServices, type MemoryView } from './types.ts';
import { validateMemoryInput, type MemoryInput } from './validate.ts';
import { requireSignedIn } from '../commons/identity.ts';

/**
 * Remembers something for the caller (SPEC §5): the `memory` span, its index row and a
 * `memory_audit` span in one transaction. Everything that can refuse (consent, validation, the
 * contract, the embedding, encryption) happens before anything is written; secret and pii content
 * is sealed with AES-256-GCM before it leaves this function, and if it cannot be, nothing is written.
 */
export async function upsertMemory(services: MemoryServices, identity: Identity | null, input: MemoryInput, headers: Readonly<Record<string, string | undefined>> = {}): Promise<MemoryView> {
  const { memory, ledger } = services;
  const valid = validateMemoryInput(input, headers, memory.embedder.dimensions);
  identity = requireSignedIn(identity, 'remembering');
  const encrypted = isEncrypted(valid.sensitivity);
  if (encrypted && valid.embedding && !valid.embedSensitive) {
    throw new ValidationError('embedding', 'a vector', `is not stored for ${valid.sensitivity} memories unless you opt in (a vector says something about the text)`, 'Leave embedding out, or send embedSensitive: true.');
  }

  // Before the write: the version this one follows, and the contract.
  const previous = !valid.schemaId && !valid.id ? null : await ledger.db.withSession(identity, async (tx) => {
    if (valid.schemaId) await checkContract(tx, valid.schemaId, valid.content);
    if (!valid.id) return null;
    const found = await readMemory(tx, valid.id);
    if (!found) throw new NotFoundError(`memory ${valid.id} does not exist or you cannot read it. Leave id out to remember something new.`, { id: valid.id });
    return found;
  });
  if (previous) checkFollows(identity, previous.span, valid.visibility, valid.sensitivity);

  const id = valid.id ?? randomUUID();
  const text = memoryText(valid.content);
  const embedded = !encrypted || valid.embedSensitive;
  const embedding = embedded ? (valid.embedding ?? (await memory.embedder.embed(text))) : null;
  const salt = encrypted ? (previous?.salt ?? newSalt()) : null;
  const content = encrypted ? await sealContent(memory.keys, identity.tenantId, id, salt!, valid.content) : valid.content;

  const at = new Date();
  const memoryInput = {
    id,
    seq: previous ? previous.span.seq + 1 : 0,
    entityType: 'memory',
    who: 'memory',
    did: 'upserted',
    this: `memory.${valid.type}`,
    at: at.toISOString(),
    visibility: valid.visibility,
    status: 'active',
    content,
    layer: valid.layer,
    memoryType: valid.type,
    sensitivity: valid.sensitivity,
    sessionId: valid.sessionId,
    ttlSeconds: valid.ttlSeconds,
    expiresAt: valid.ttlSeconds === null ? null : new Date(at.getTime() + valid.ttlSeconds * 1000).toISOString(),
    schemaId: valid.schemaId,
    tags: valid.tags,
    ...(encrypted ? { encAlg: ENC_ALG, encKeyRef: `tenant-data-key+hkdf:${id}` } : {}),
  };
  const [stored, audit] = await ledger.db.withSession(identity, async (tx) => {
    const span = await appendSpanInSession(tx, identity, memoryInput, ledger.signer);
    await writeIndexRow(tx, memory.embeddingColumn, { id, ownerId: span.ownerId, tenantId: span.tenantId, visibility: span.visibility, text: encrypted ? null : text, embedding, salt });
    const auditSpan = await appendSpanInSession(tx, identity, auditInput(span, 'upserted', { consent: valid.consent, encrypted, embedded }), ledger.signer);
    return [span, auditSpan] as const;
  });
  await memory.cache.invalidate(stored.tenantId, affectedBy([stored]));
  await publishCommitted(services.publisher, stored);
  await publishCommitted(services.publisher, audit);
  return {
    id: stored.id,
    seq: stored.seq,
    ownerId: stored.ownerId,
    tenantId: stored.tenantId,
    visibility: stored.visibility,
    layer: valid.layer,
    type: valid.type,
    sensitivity: valid.sensitivity,
    tags: valid.tags,
    schemaId: valid.schemaId,
    sessionId: valid.sessionId,
    ttlSeconds: valid.ttlSeconds,
    expiresAt: stored.expiresAt,
    at: stored.at,
    status: 'active',
    encrypted,
    preview: previewOf(text),
    content: valid.content,
  };
}

function checkFollows(identity: Identity, previous: Span, visibility: string, sensitivity: string): void {
  if (previous.ownerId !== identity.userId) {
    throw new ForbiddenError(`memory ${previous.id} belongs to another user; only its owner can change it. Leave id out to remember something of your own.`, { field: 'id' });
  }
  if (previous.isDeleted) throw new ConflictError(`memory ${previous.id} was forgotten; remember it again without an id.`, { field: 'id' });
  if (previous.visibility !== visibility) {
    throw new ValidationError('visibility', visibility, `differs from the memory's visibility ${previous.visibility}; a memory keeps who can read it`, 'Send the same visibility, or remember a new memory (and forget this one).');
  }
  if (isEncrypted(sensitivity) && !isEncrypted(previous.sensitivity)) {
    // The earlier versions hold the content in clear and the ledger never changes them.
    throw new ValidationError('sensitivity', sensitivity, `cannot be raised from ${String(previous.sensitivity)}: earlier versions of this memory are stored in clear`, 'Forget this memory and remember the content as a new secret or pii memory.');
  }
}

/** The audit span of a memory change: what happened, never the content. */
export function auditInput(span: Span, action: string, details: Record<string, unknown>, who = 'memory') {
  return {
    entityType: 'memory_audit',
    who,
    did: action,
    this: 'memory_audit',
    parentId: span.id,
    relatedTo: [span.id],
    visibility: 'private',
    sessionId: span.sessionId,
    metadata: { action, memoryId: span.id, seq: span.seq, layer: span.layer, type: span.memoryType, sensitivity: span.sensitivity, ...details },
  };
}
