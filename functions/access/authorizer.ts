import { appendSpan } from '../ledger/index.ts';
import { deniedFields } from './scopes.ts';
import { findToken, looksLikeToken, type AccessContext } from './tokens.ts';

/*
 * The decision of AppSync's Lambda authorizer (AWS_LAMBDA auth mode), shared by the Lambda and the
 * local server: a token is valid when it is known, active, unexpired and its app is active. The
 * answer names the app, its owner and tenant, and the fields its scopes do not cover.
 */

/** What a Lambda authorizer answers AppSync. */
export interface AuthorizerResult {
  readonly isAuthorized: boolean;
  readonly resolverContext?: Readonly<Record<string, string>>;
  readonly deniedFields?: readonly string[];
  readonly ttlOverride?: number;
}

export interface AuthorizerDecision extends AuthorizerResult {
  /** Why, for the decision span and logs (never sent to the client). */
  readonly reason: string;
}

/** How long AppSync may cache a decision: revocation takes effect within this time. */
export const DECISION_TTL_SECONDS = 60;

export async function decide(access: AccessContext, presented: string, now = Date.now()): Promise<AuthorizerDecision> {
  const token = presented.trim();
  if (!looksLikeToken(token)) return { isAuthorized: false, reason: 'malformed' };
  const found = await findToken(access, token);
  if (!found) return { isAuthorized: false, reason: 'unknown' };
  const { token: record, app } = found;
  if (record.status !== 'active') return { isAuthorized: false, reason: 'revoked' };
  if (record.expiresAt && Date.parse(record.expiresAt) <= now) return { isAuthorized: false, reason: 'expired' };
  if (app.status !== 'active') return { isAuthorized: false, reason: 'app_revoked' };
  const scopes = record.scopes ?? [];
  const secondsLeft = record.expiresAt ? Math.floor((Date.parse(record.expiresAt) - now) / 1000) : DECISION_TTL_SECONDS;
  return {
    isAuthorized: true,
    resolverContext: { appId: app.id, tokenId: record.id, userId: app.ownerId, tenantId: app.tenantId ?? '', scopes: scopes.join(' ') },
    deniedFields: deniedFields(scopes),
    ttlOverride: Math.max(0, Math.min(DECISION_TTL_SECONDS, secondsLeft)),
    reason: 'permitted',
  };
}

/**
 * Records decisions as `auth.decision` spans, at most `limit` per `windowMs` so a flood of bad
 * tokens cannot flood the ledger; the next recorded span counts what was left out.
 */
export function createDecisionRecorder(access: AccessContext, limit = 50, windowMs = 10_000) {
  let windowStart = 0;
  let written = 0;
  let suppressed = 0;
  return async function record(decision: AuthorizerDecision, tenantId: string | null): Promise<boolean> {
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      windowStart = now;
      written = 0;
    }
    if (written >= limit) {
      suppressed += 1;
      return false;
    }
    written += 1;
    const left = suppressed;
    suppressed = 0;
    await appendSpan(access, { userId: 'system:authorizer', tenantId }, {
      entityType: 'auth.decision',
      who: 'system:authorizer',
      did: decision.isAuthorized ? 'permitted' : 'denied',
      this: decision.resolverContext?.appId ? `app ${decision.resolverContext.appId}` : 'unknown token',
      status: decision.reason,
      appId: decision.resolverContext?.appId ?? null,
      tenantId,
      visibility: tenantId ? 'tenant' : 'private',
      metadata: { reason: decision.reason, ...(left > 0 ? { suppressedBefore: left } : {}) },
    });
    return true;
  };
}

/** The decision, recorded as an `auth.decision` span (rate-limited); a recording failure never changes it. */
export async function authorizeToken(access: AccessContext, token: string, record: (d: AuthorizerDecision, tenant: string | null) => Promise<boolean>): Promise<AuthorizerResult> {
  const decision = await decide(access, token);
  await record(decision, decision.resolverContext?.tenantId || null).catch((error: unknown) => {
    console.error(JSON.stringify({ level: 'warn', message: 'recording an auth decision failed', error: error instanceof Error ? error.message : String(error) }));
  });
  const { reason: _reason, ...answer } = decision;
  return answer;
}
