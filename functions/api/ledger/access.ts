import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { Identity } from '../../commons/db/database.ts';
import { ForbiddenError } from '../../commons/errors.ts';
import { identityFrom } from '../../commons/identity.ts';
import type { AccessContext, IssuedToken } from '../../access/tokens.ts';
import type { Span } from '../../ledger/index.ts';
import type { Services } from '../handler.ts';
import { parseAwsJson } from './shape.ts';

/** App and token management is for signed-in users; an API token cannot mint or revoke tokens. */
export function signedInUser(event: AppSyncEvent<unknown>): Identity {
  const identity = identityFrom(event.identity);
  if (!identity || !event.identity || !('sub' in event.identity)) {
    throw new ForbiddenError('managing apps and tokens needs a signed-in user (a Cognito token), not an API key or an app token', {});
  }
  return identity;
}

export const accessOf = (services: Services): AccessContext => ({ ...services.ledger, tokenSecret: services.tokenSecret });

export const toApp = (span: Span) => ({
  id: span.id,
  seq: span.seq,
  name: span.name ?? span.this,
  description: span.description,
  ownerId: span.ownerId,
  tenantId: span.tenantId,
  scopes: span.scopes ?? [],
  content: span.content,
  status: span.status ?? 'active',
  at: span.at,
});

export const toToken = (span: Span) => ({
  id: span.id,
  appId: span.appId,
  scopes: span.scopes ?? [],
  expiresAt: span.expiresAt,
  status: span.status ?? 'active',
  at: span.at,
});

export const toIssued = (issued: IssuedToken) => ({ token: issued.token, record: toToken(issued.record) });

/** AppInput.slo arrives as AWSJSON text. */
export function appInput(input: Record<string, unknown>): Record<string, unknown> {
  return typeof input.slo === 'string' ? { ...input, slo: parseAwsJson('slo', input.slo) } : input;
}

export const toDevice = (span: Span) => ({
  id: span.id,
  appId: span.appId,
  publicKey: (span.content as { publicKey?: string } | null)?.publicKey ?? '',
  fingerprint: span.name ?? '',
  status: span.status ?? 'active',
  at: span.at,
});
