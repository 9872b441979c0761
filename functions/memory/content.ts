import { hkdfSync, randomBytes } from 'node:crypto';
import type { Span } from '../ledger/index.ts';
import { open, seal, type TenantKeys } from './keys.ts';
import { isEncrypted, type MemoryView } from './types.ts';

export const ENC_ALG = 'AES-256-GCM';
export const PREVIEW_CHARS = 200;
export const ENCRYPTED_PREVIEW = '[encrypted]';

/** What a secret or pii memory's `content` holds: the sealed JSON of the content, never the content. */
interface SealedContent {
  readonly encrypted: { readonly iv: string; readonly tag: string; readonly ciphertext: string };
}

/** The searchable text of a memory: a string content, its `text` field, or its string values joined. */
export function memoryText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (content && typeof content === 'object' && !Array.isArray(content) && typeof (content as { text?: unknown }).text === 'string') {
    return (content as { text: string }).text;
  }
  const parts: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === 'string') parts.push(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(content);
  return parts.join(' ');
}

export const previewOf = (text: string): string => (text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text);

/**
 * Each memory has its own AES-256 key: HKDF-SHA256 of the tenant's data key with a random salt kept
 * in the memory's index row. Forgetting deletes the salt, which leaves every stored version's
 * ciphertext unreadable while the tenant key keeps serving the tenant's other memories.
 */
function memoryKey(tenantKey: Buffer, salt: Buffer, memoryId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', tenantKey, salt, `loglineos memory ${memoryId}`, 32));
}

const aad = (memoryId: string, tenantId: string | null) => Buffer.from(`memory:${memoryId}:tenant:${tenantId ?? ''}`);

export const newSalt = (): Buffer => randomBytes(32);

export async function sealContent(keys: TenantKeys, tenantId: string | null, memoryId: string, salt: Buffer, content: unknown): Promise<SealedContent> {
  const key = memoryKey(await keys.keyFor(tenantId), salt, memoryId);
  const sealed = seal(key, Buffer.from(JSON.stringify(content)), aad(memoryId, tenantId));
  return { encrypted: { iv: sealed.iv.toString('base64'), tag: sealed.tag.toString('base64'), ciphertext: sealed.ciphertext.toString('base64') } };
}

/** The clear content of a stored version, or null when it cannot be opened (forgotten, salt gone). */
export async function openContent(keys: TenantKeys, span: Span, salt: Buffer | null): Promise<unknown> {
  const sealed = (span.content as SealedContent | null)?.encrypted;
  if (!sealed || !salt) return null;
  const key = memoryKey(await keys.keyFor(span.tenantId), salt, span.id);
  const clear = open(key, { iv: Buffer.from(sealed.iv, 'base64'), tag: Buffer.from(sealed.tag, 'base64'), ciphertext: Buffer.from(sealed.ciphertext, 'base64') }, aad(span.id, span.tenantId));
  return JSON.parse(clear.toString('utf8')) as unknown;
}

/**
 * A stored memory version as `viewer` sees it. RLS already decided the viewer may read the row, so
 * encrypted content is opened for them; its preview stays `[encrypted]` for anyone but the owner.
 */
export async function toMemoryView(keys: TenantKeys, span: Span, salt: Buffer | null, viewerId: string | null): Promise<MemoryView> {
  const encrypted = isEncrypted(span.sensitivity);
  const forgotten = span.isDeleted;
  const content = forgotten ? null : encrypted ? await openContent(keys, span, salt) : span.content;
  const preview = forgotten ? '' : encrypted && span.ownerId !== viewerId ? ENCRYPTED_PREVIEW : content === null ? '' : previewOf(memoryText(content));
  return {
    id: span.id,
    seq: span.seq,
    ownerId: span.ownerId,
    tenantId: span.tenantId,
    visibility: span.visibility,
    layer: span.layer ?? 'temporary',
    type: span.memoryType ?? 'other',
    sensitivity: span.sensitivity ?? 'internal',
    tags: span.tags ?? [],
    schemaId: span.schemaId,
    sessionId: span.sessionId,
    ttlSeconds: span.ttlSeconds,
    expiresAt: span.expiresAt,
    at: span.at,
    status: forgotten ? 'forgotten' : (span.status ?? 'active'),
    encrypted,
    preview,
    content,
  };
}
