import { randomUUID } from 'node:crypto';
import type { Identity } from '../commons/db/database.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../commons/errors.ts';
import { appendSpanInSession, getSpan, spanFromRow, type Span } from '../ledger/index.ts';
import { SPAN_COLUMNS_SQL } from '../ledger/span.ts';
import { checkScopes, issueToken, listTokens, revokeToken, type AccessContext, type IssuedToken } from './tokens.ts';

/*
 * App onboarding: an `app_registration` span (the app), a `capability_grant` span (what it was
 * granted) and a first API token, returned once. Changes are new versions of the app's id.
 */

export interface RegisterAppInput {
  readonly name?: unknown;
  readonly description?: unknown;
  readonly scopes?: unknown;
  readonly intents?: unknown;
  /** Default service-level objective, e.g. { latencyMs: 500 }. */
  readonly slo?: unknown;
}

export interface Registration {
  readonly app: Span;
  readonly grant: Span;
  readonly token: IssuedToken;
}

function appFields(input: RegisterAppInput, caller: Identity) {
  if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 120) {
    throw new ValidationError('name', input.name, 'must be 1 to 120 characters', 'Name the app, e.g. "support-assistant".');
  }
  const scopes = checkScopes('scopes', input.scopes, caller);
  const intents = input.intents ?? [];
  if (!Array.isArray(intents) || intents.some((intent) => typeof intent !== 'string')) {
    throw new ValidationError('intents', input.intents, 'must be a list of strings', 'Send what the app will do, e.g. ["answer tickets"].');
  }
  const slo = input.slo ?? null;
  if (slo !== null && (typeof slo !== 'object' || Array.isArray(slo))) {
    throw new ValidationError('slo', slo, 'must be an object', 'Send e.g. {"latencyMs": 500, "availability": 0.999}.');
  }
  return { name: input.name.trim(), description: typeof input.description === 'string' ? input.description : null, scopes, content: { intents, slo } };
}

export async function registerApp(access: AccessContext, caller: Identity, input: RegisterAppInput): Promise<Registration> {
  const fields = appFields(input, caller);
  const appId = randomUUID();
  const { app, grant } = await access.db.withSession(caller, async (tx) => {
    const app = await appendSpanInSession(tx, caller, {
      id: appId,
      entityType: 'app_registration',
      who: `user:${caller.userId}`,
      did: 'registered',
      this: fields.name,
      ...fields,
      appId,
      status: 'active',
    }, access.signer);
    const grant = await appendSpanInSession(tx, caller, {
      entityType: 'capability_grant',
      who: `user:${caller.userId}`,
      did: 'granted',
      this: `capabilities of ${fields.name}`,
      parentId: appId,
      appId,
      scopes: fields.scopes,
      status: 'active',
    }, access.signer);
    return { app, grant };
  });
  const token = await issueToken(access, caller, appId, fields.scopes);
  return { app, grant, token };
}

export async function getApp(access: AccessContext, caller: Identity | null, appId: string): Promise<Span | null> {
  const app = await getSpan(access, caller, appId);
  return app?.entityType === 'app_registration' ? app : null;
}

export async function listApps(access: AccessContext, caller: Identity): Promise<Span[]> {
  const rows = await access.db.withSession(caller, (tx) =>
    tx.query(`select ${SPAN_COLUMNS_SQL} from ledger.latest_spans r where r.entity_type = 'app_registration' and r.owner_id = $1 order by r.position`, [caller.userId]),
  );
  return rows.map(spanFromRow);
}

async function ownApp(access: AccessContext, caller: Identity, appId: string): Promise<Span> {
  const app = await getApp(access, caller, appId);
  if (!app) throw new NotFoundError(`no app ${appId} that you can read`, { field: 'id' });
  if (app.ownerId !== caller.userId) throw new ForbiddenError(`only the owner of app ${appId} can change it`, { field: 'id' });
  return app;
}

/** A new version of the app. Scopes can shrink; widening them needs a new registration. */
export async function updateApp(access: AccessContext, caller: Identity, appId: string, input: RegisterAppInput): Promise<Span> {
  const app = await ownApp(access, caller, appId);
  if (app.status !== 'active') throw new ForbiddenError(`app ${appId} is revoked`, { field: 'id' });
  const fields = appFields({ name: app.name, scopes: app.scopes, ...input }, caller);
  const widened = fields.scopes.filter((scope) => !(app.scopes ?? []).includes(scope));
  if (widened.length > 0) throw new ForbiddenError(`scopes ${widened.join(', ')} were not granted to app ${appId}; register a new app for them`, { field: 'scopes' });
  return access.db.withSession(caller, (tx) =>
    appendSpanInSession(tx, caller, { ...versionOf(app), ...fields, did: 'updated' }, access.signer),
  );
}

/** Revokes the app and every token it has: from now on none of them is accepted. */
export async function revokeApp(access: AccessContext, caller: Identity, appId: string): Promise<Span> {
  const app = await ownApp(access, caller, appId);
  if (app.status === 'revoked') return app;
  const revoked = await access.db.withSession(caller, (tx) =>
    appendSpanInSession(tx, caller, { ...versionOf(app), did: 'revoked', status: 'revoked' }, access.signer),
  );
  for (const token of await listTokens(access, caller, appId)) if (token.status === 'active') await revokeToken(access, caller, token.id);
  return revoked;
}

function versionOf(app: Span) {
  return {
    id: app.id,
    seq: app.seq + 1,
    entityType: 'app_registration',
    who: app.who,
    did: app.did,
    this: app.this,
    name: app.name,
    description: app.description,
    scopes: app.scopes,
    content: app.content,
    appId: app.appId,
    status: app.status,
  };
}
