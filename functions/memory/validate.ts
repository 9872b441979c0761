import { LogLineError, ValidationError } from '../commons/errors.ts';
import { isUuid } from '../ledger/index.ts';
import { CONSENTS, LAYERS, MEMORY_TYPES, SENSITIVITIES, SESSION_TTL_SECONDS, isEncrypted, type Consent, type Layer, type SearchRequest } from './types.ts';

/*
 * Every memory input is checked here before anything is read or written; each refusal names the
 * field, the value received and the fix.
 */

export const CONSENT_HEADER = 'x-logline-memory';
export const SESSION_HEADER = 'x-logline-session';
export const MAX_TAGS = 32;
export const MAX_TTL_SECONDS = 366 * 24 * 60 * 60;
export const MIN_TTL_SECONDS = 60;
export const MAX_TOP_K = 100;
export const MAX_CONTENT_BYTES = 64 * 1024;
const TAG = /^[a-z0-9][a-z0-9_.:/-]{0,63}$/;
const SESSION = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Consent is off: nothing was written. */
export class MemoryDisabledError extends LogLineError {
  constructor(source: string) {
    super('MemoryDisabled', `memory is off for this request (${source}); nothing was written. Send the header X-LogLine-Memory: on (or session-only), or the consent argument, to allow memories.`, { fix: 'X-LogLine-Memory: on | session-only' });
  }
}

const RANK: Readonly<Record<Consent, number>> = { off: 0, 'session-only': 1, on: 2 };

/**
 * The consent of a request: the header and the argument; when both are given the stricter one
 * applies (a client cannot widen what the user's agent set in the header). Neither means off.
 */
export function consentOf(header: string | undefined, argument: string | null | undefined): { consent: Consent; source: string } {
  const parse = (field: string, value: string) => {
    const normal = value.trim().toLowerCase();
    if (!(CONSENTS as readonly string[]).includes(normal)) {
      throw new ValidationError(field, value, `must be one of ${CONSENTS.join(', ')}`, 'Send X-LogLine-Memory: on, session-only or off.');
    }
    return normal as Consent;
  };
  const fromHeader = header === undefined || header === '' ? undefined : parse('X-LogLine-Memory', header);
  const fromArgument = argument === undefined || argument === null ? undefined : parse('consent', argument);
  if (fromHeader === undefined && fromArgument === undefined) return { consent: 'off', source: 'no X-LogLine-Memory header or consent argument was given, and the default is off' };
  if (fromHeader !== undefined && fromArgument !== undefined) {
    const consent = RANK[fromHeader] <= RANK[fromArgument] ? fromHeader : fromArgument;
    return { consent, source: `consent ${consent} (header ${fromHeader}, argument ${fromArgument}: the stricter applies)` };
  }
  const consent = (fromHeader ?? fromArgument)!;
  return { consent, source: fromHeader !== undefined ? `X-LogLine-Memory: ${consent}` : `consent argument ${consent}` };
}

export interface MemoryInput {
  readonly id?: string | null;
  readonly content?: unknown;
  readonly layer?: string | null;
  readonly type?: string | null;
  readonly sensitivity?: string | null;
  readonly visibility?: string | null;
  readonly tags?: readonly string[] | null;
  readonly schemaId?: string | null;
  readonly ttlSeconds?: number | null;
  readonly sessionId?: string | null;
  readonly consent?: string | null;
  readonly embedding?: readonly number[] | null;
  /** Embed secret or pii text too (the vector is stored in clear); off by default. */
  readonly embedSensitive?: boolean | null;
}

export interface ValidatedMemory {
  readonly id: string | null;
  readonly content: unknown;
  readonly layer: Layer;
  readonly type: string;
  readonly sensitivity: string;
  readonly visibility: string;
  readonly tags: readonly string[];
  readonly schemaId: string | null;
  readonly ttlSeconds: number | null;
  readonly sessionId: string | null;
  readonly consent: Consent;
  readonly embedding: readonly number[] | null;
  readonly embedSensitive: boolean;
}

export function validateMemoryInput(input: MemoryInput, headers: Readonly<Record<string, string | undefined>>, dimensions: number): ValidatedMemory {
  const { consent, source } = consentOf(headers[CONSENT_HEADER], input.consent);
  if (consent === 'off') throw new MemoryDisabledError(source);

  const id = input.id === undefined || input.id === null ? null : uuid('id', input.id);
  const content = validContent(input.content);
  const sessionId = session('sessionId', input.sessionId ?? headers[SESSION_HEADER] ?? null);
  const layer: Layer = consent === 'session-only' ? 'session' : oneOf('layer', input.layer, LAYERS, 'temporary');
  const type = oneOf('type', input.type, MEMORY_TYPES, 'note');
  const sensitivity = oneOf('sensitivity', input.sensitivity, SENSITIVITIES, 'internal');
  const visibility = oneOf('visibility', input.visibility, ['private', 'tenant', 'public'] as const, layer === 'shared' ? 'tenant' : 'private');
  if (isEncrypted(sensitivity) && visibility === 'public') {
    throw new ValidationError('visibility', visibility, `cannot be public for ${sensitivity} memories (they are encrypted under your tenant's key)`, 'Send visibility private or tenant, or a lower sensitivity.');
  }
  if (layer === 'session' && sessionId === null) {
    throw new ValidationError('sessionId', null, `is required for a session memory${consent === 'session-only' ? ' (consent session-only makes every memory a session memory)' : ''}`, 'Send the X-LogLine-Session header or the sessionId argument.');
  }
  if (layer === 'session' && visibility !== 'private') {
    throw new ValidationError('visibility', visibility, 'must be private for a session memory', 'Leave visibility out, or use layer temporary or shared.');
  }
  const tags = validTags('tags', input.tags);
  const schemaId = input.schemaId === undefined || input.schemaId === null ? null : uuid('schemaId', input.schemaId);
  let ttlSeconds = input.ttlSeconds === undefined || input.ttlSeconds === null ? null : ttl(input.ttlSeconds);
  if (layer === 'permanent' && ttlSeconds !== null) {
    throw new ValidationError('ttlSeconds', ttlSeconds, 'cannot be set on a permanent memory', 'Leave ttlSeconds out, or use layer temporary.');
  }
  if (layer === 'session') ttlSeconds = Math.min(ttlSeconds ?? SESSION_TTL_SECONDS, SESSION_TTL_SECONDS);
  const embedding = input.embedding === undefined || input.embedding === null ? null : validEmbedding('embedding', input.embedding, dimensions);
  if (input.embedSensitive !== undefined && input.embedSensitive !== null && typeof input.embedSensitive !== 'boolean') {
    throw new ValidationError('embedSensitive', input.embedSensitive, 'must be true or false', 'Send a JSON boolean.');
  }
  return { id, content, layer, type, sensitivity, visibility, tags, schemaId, ttlSeconds, sessionId, consent, embedding, embedSensitive: input.embedSensitive === true };
}

export interface ValidatedSearch {
  readonly query: string;
  readonly topK: number;
  readonly sessionId: string | null;
  readonly layers: readonly string[] | null;
  readonly types: readonly string[] | null;
  readonly tags: readonly string[] | null;
  readonly embedding: number[] | null;
}

export function validateSearch(request: SearchRequest, dimensions: number): ValidatedSearch {
  const query = request.query;
  if (typeof query !== 'string' || query.trim() === '' || query.length > 2000) {
    throw new ValidationError('query', query, 'must be 1 to 2000 characters of text', 'Send what to look for, e.g. "favourite colour".');
  }
  const topK = request.topK ?? 10;
  if (!Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K) {
    throw new ValidationError('topK', topK, `must be a whole number from 1 to ${MAX_TOP_K}`, 'Send topK 10, or leave it out.');
  }
  const list = (field: string, values: readonly string[] | null | undefined, allowed: readonly string[]) => {
    if (values === undefined || values === null) return null;
    for (const value of values) oneOf(field, value, allowed, '');
    return values.length === 0 ? null : [...values];
  };
  return {
    query,
    topK,
    sessionId: session('sessionId', request.sessionId ?? null),
    layers: list('layers', request.layers, LAYERS),
    types: list('types', request.types, MEMORY_TYPES),
    tags: request.tags === undefined || request.tags === null || request.tags.length === 0 ? null : validTags('tags', request.tags),
    embedding: request.embedding === undefined || request.embedding === null ? null : validEmbedding('embedding', request.embedding, dimensions),
  };
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback: T | ''): T {
  if (value === undefined || value === null) return fallback as T;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(field, value, `must be one of ${allowed.join(', ')}`, `Send one of ${allowed.join(', ')}${fallback ? `, or leave ${field} out for ${fallback}` : ''}.`);
  }
  return value as T;
}

function uuid(field: string, value: unknown): string {
  if (typeof value !== 'string' || !isUuid(value)) throw new ValidationError(field, value, 'must be a UUID', 'Send 8-4-4-4-12 hex digits.');
  return value.toLowerCase();
}

function session(field: string, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || !SESSION.test(value)) {
    throw new ValidationError(field, value, 'must be 1 to 128 letters, digits, ., _, : or - (starting with a letter or digit)', 'Send a session id such as chat-2026-11-26-01.');
  }
  return value;
}

function validTags(field: string, tags: unknown): string[] {
  if (tags === undefined || tags === null) return [];
  if (!Array.isArray(tags)) throw new ValidationError(field, tags, 'must be a list of strings', 'Send tags as ["work", "project:apollo"].');
  if (tags.length > MAX_TAGS) throw new ValidationError(field, tags, `has more than ${MAX_TAGS} tags`, `Send at most ${MAX_TAGS}.`);
  tags.forEach((tag, index) => {
    if (typeof tag !== 'string' || !TAG.test(tag)) {
      throw new ValidationError(`${field}[${index}]`, tag, 'must be 1 to 64 lowercase letters, digits, _, ., :, / or - starting with a letter or digit', 'Send tags such as "work" or "project:apollo".');
    }
  });
  return [...new Set(tags as string[])];
}

function ttl(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_TTL_SECONDS || value > MAX_TTL_SECONDS) {
    throw new ValidationError('ttlSeconds', value, `must be a whole number of seconds from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS} (366 days)`, 'Send e.g. 86400 for a day, or leave it out for no expiry.');
  }
  return value;
}

function validContent(content: unknown): unknown {
  const value = content;
  if (value === undefined || value === null) throw new ValidationError('content', value, 'is required', 'Send what to remember, e.g. "likes green tea" or {"text": "likes green tea"}.');
  if (value === null || (typeof value === 'string' && value.trim() === '')) {
    throw new ValidationError('content', content, 'is empty', 'Send what to remember.');
  }
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_CONTENT_BYTES) throw new ValidationError('content', `${bytes} bytes`, `is larger than ${MAX_CONTENT_BYTES} bytes`, 'Remember a summary, or split it into several memories.');
  return value;
}

function validEmbedding(field: string, value: readonly unknown[], dimensions: number): number[] {
  if (!Array.isArray(value) || value.length !== dimensions || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new ValidationError(field, value, `must be ${dimensions} finite numbers`, `Send a ${dimensions}-dimension vector from the same model, or leave it out to have it computed.`);
  }
  const norm = Math.sqrt((value as number[]).reduce((sum, x) => sum + x * x, 0));
  if (norm === 0) throw new ValidationError(field, 'a zero vector', 'has no direction', 'Send a non-zero vector.');
  return (value as number[]).map((x) => x / norm);
}
