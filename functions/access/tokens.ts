import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../commons/db/database.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../commons/errors.ts';
import { appendSpanInSession, getSpan, latestVersion, spanFromRow, type Ledger, type Span } from '../ledger/index.ts';
import { SPAN_COLUMNS_SQL } from '../ledger/span.ts';
import { isScope } from './scopes.ts';

/*
 * API tokens. A token is shown once; the ledger keeps only its keyed hash (HMAC-SHA-256 with the
 * deployment's token secret), which finds it again when it is presented: a salted hash could never
 * be looked up. Issuing appends an `api_token_issued` span; revoking appends the next version of the
 * same id as `api_token_revoked`.
 */

export const TOKEN_PREFIX = 'llos_';
const TOKEN_FORMAT = /^llos_[A-Za-z0-9_-]{32}$/;
export const MAX_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

export interface AccessContext extends Ledger {
  /** The server secret that keys token hashes (32 bytes or more). */
  readonly tokenSecret: Buffer;
}

export interface IssuedToken {
  /** The token itself: returned once, never stored. */
  readonly token: string;
  readonly record: Span;
}

export const looksLikeToken = (value: string): boolean => value.startsWith(TOKEN_PREFIX);

export function tokenHash(secret: Buffer, token: string): string {
  return createHmac('sha256', secret).update(token).digest('hex');
}

export function checkScopes(field: string, scopes: unknown, caller: Identity): string[] {
  if (!Array.isArray(scopes) || scopes.length === 0) {
    throw new ValidationError(field, scopes, 'must be a non-empty list of scopes', 'Send scopes such as ["span.read", "span.write"].');
  }
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !isScope(scope)) {
      throw new ValidationError(field, scope, 'is not a scope', 'Use span.read, span.write, memory.read, memory.write, prompt.run, provider.invoke, admin or kernel:<name>:invoke.');
    }
  }
  if (scopes.includes('admin') && !caller.groups?.includes('admin')) {
    throw new ForbiddenError(`${field}: only the admin group can grant the admin scope`, { field });
  }
  return [...new Set(scopes as string[])];
}

/** Issues a token for an app the caller owns, with scopes within the app's grant. */
export async function issueToken(access: AccessContext, caller: Identity, appId: string, scopes: unknown, ttlSeconds?: number | null): Promise<IssuedToken> {
  const wanted = checkScopes('scopes', scopes, caller);
  if (ttlSeconds !== undefined && ttlSeconds !== null && (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > MAX_TOKEN_TTL_SECONDS)) {
    throw new ValidationError('ttlSeconds', ttlSeconds, `must be a whole number of seconds from 60 to ${MAX_TOKEN_TTL_SECONDS}`, 'Leave it out for a 90-day token.');
  }
  const app = await getSpan(access, caller, appId);
  if (!app || app.entityType !== 'app_registration') throw new NotFoundError(`no app ${appId} that you can read`, { field: 'appId' });
  if (app.ownerId !== caller.userId) throw new ForbiddenError(`only the owner of app ${appId} can issue its tokens`, { field: 'appId' });
  if (app.status !== 'active') throw new ForbiddenError(`app ${appId} is ${String(app.status)}; a revoked app gets no tokens`, { field: 'appId' });
  const granted = app.scopes ?? [];
  const beyond = wanted.filter((scope) => !granted.includes(scope));
  if (beyond.length > 0) {
    throw new ForbiddenError(`scopes ${beyond.join(', ')} are beyond what app ${appId} was granted (${granted.join(', ')})`, { field: 'scopes' });
  }
  const token = `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
  const expiresAt = new Date(Date.now() + (ttlSeconds ?? 90 * 24 * 3600) * 1000).toISOString();
  const record = await access.db.withSession(caller, (tx) =>
    appendSpanInSession(tx, caller, {
      id: randomUUID(),
      entityType: 'api_token_issued',
      who: `user:${caller.userId}`,
      did: 'issued',
      this: `token for app ${appId}`,
      parentId: appId,
      appId,
      scopes: wanted,
      tokenHash: tokenHash(access.tokenSecret, token),
      expiresAt,
      status: 'active',
    }, access.signer),
  );
  return { token, record };
}

/** Revokes a token of an app the caller owns: the next version of the token, marked revoked. */
export async function revokeToken(access: AccessContext, caller: Identity, tokenId: string): Promise<Span> {
  const current = await getSpan(access, caller, tokenId);
  if (!current || (current.entityType !== 'api_token_issued' && current.entityType !== 'api_token_revoked')) {
    throw new NotFoundError(`no token ${tokenId} that you can read`, { field: 'id' });
  }
  if (current.status === 'revoked') return current;
  return access.db.withSession(caller, (tx) =>
    appendSpanInSession(tx, caller, {
      id: current.id,
      seq: current.seq + 1,
      entityType: 'api_token_revoked',
      who: `user:${caller.userId}`,
      did: 'revoked',
      this: current.this,
      parentId: current.parentId,
      appId: current.appId,
      scopes: current.scopes,
      tokenHash: current.tokenHash,
      expiresAt: current.expiresAt,
      status: 'revoked',
    }, access.signer),
  );
}

/** A new token with the same scopes, and the old one revoked. */
export async function rotateToken(access: AccessContext, caller: Identity, tokenId: string): Promise<IssuedToken> {
  const current = await getSpan(access, caller, tokenId);
  if (!current || current.entityType !== 'api_token_issued' || current.status !== 'active') {
    throw new NotFoundError(`no active token ${tokenId} that you can read`, { field: 'id' });
  }
  const issued = await issueToken(access, caller, current.appId ?? '', current.scopes ?? []);
  await revokeToken(access, caller, tokenId);
  return issued;
}

/** An app's tokens as their latest versions (never the tokens themselves). */
export async function listTokens(access: AccessContext, caller: Identity, appId: string): Promise<Span[]> {
  const rows = await access.db.withSession(caller, (tx) =>
    tx.query(
      `select ${SPAN_COLUMNS_SQL} from ledger.latest_spans r where r.app_id = $1 and r.entity_type in ('api_token_issued', 'api_token_revoked') order by r.position`,
      [appId],
    ),
  );
  return rows.map(spanFromRow);
}

export interface TokenLookup {
  readonly token: Span;
  readonly app: Span;
}

/**
 * Finds a presented token by its keyed hash, as the ledger role (the authorizer runs before any
 * identity exists). Null when unknown; the caller decides what revoked or expired means.
 */
export async function findToken(access: AccessContext, presented: string): Promise<TokenLookup | null> {
  if (!TOKEN_FORMAT.test(presented)) return null;
  const hash = tokenHash(access.tokenSecret, presented);
  return access.db.withLedger(async (tx) => {
    const [row] = await tx.query(`select ${SPAN_COLUMNS_SQL} from ledger.universal_registry r where r.token_hash = $1 order by r.seq desc limit 1`, [hash]);
    if (!row) return null;
    const token = spanFromRow(row);
    // The index found it; compare the whole hash in constant time all the same.
    if (!timingSafeEqual(Buffer.from(token.tokenHash ?? '', 'hex'), Buffer.from(hash, 'hex'))) return null;
    const app = await latestVersion(tx, token.appId ?? '');
    return app ? { token, app } : null;
  });
}
