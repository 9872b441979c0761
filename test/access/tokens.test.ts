import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { registerApp, revokeApp, updateApp } from '../../functions/access/apps.ts';
import { createDecisionRecorder, decide } from '../../functions/access/authorizer.ts';
import { issueToken, listTokens, revokeToken, rotateToken, type AccessContext } from '../../functions/access/tokens.ts';
import { FIELD_SCOPES } from '../../functions/access/scopes.ts';
import { openTestLedger, persona, rowCount, type TestLedger } from '../support/ledger.ts';

let ledger: TestLedger;
let access: AccessContext;
beforeAll(async () => {
  ledger = await openTestLedger();
  access = { ...ledger, tokenSecret: randomBytes(32) };
});
afterAll(() => ledger.close());

const app = (scopes: string[]) => ({ name: 'support-assistant', scopes, intents: ['answer tickets'], slo: { latencyMs: 500 } });

describe('app onboarding and API tokens', () => {
  test('registering an app records it and its grant, and returns a first token that authorizes', async () => {
    const owner = persona('owner', 'acme');
    const { app: registered, grant, token } = await registerApp(access, owner, app(['span.read', 'span.write']));
    expect(registered).toMatchObject({ entityType: 'app_registration', ownerId: owner.userId, tenantId: owner.tenantId, status: 'active', scopes: ['span.read', 'span.write'] });
    expect(grant).toMatchObject({ entityType: 'capability_grant', parentId: registered.id, scopes: ['span.read', 'span.write'] });
    expect(token.token).toMatch(/^llos_/);
    expect(await decide(access, token.token)).toMatchObject({
      isAuthorized: true,
      resolverContext: { appId: registered.id, userId: owner.userId, tenantId: owner.tenantId, scopes: 'span.read span.write' },
      // Exactly the fields that need a scope the token lacks
      deniedFields: Object.entries(FIELD_SCOPES).filter(([, scope]) => !scope.startsWith('span.')).map(([field]) => field),
    });
  });

  test('a token is stored only as its keyed hash: no row holds the token text', async () => {
    const owner = persona('owner', 'acme');
    const { token } = await registerApp(access, owner, app(['span.read']));
    const [row] = await ledger.db.withOwner((tx) =>
      tx.query<{ n: number }>('select count(*)::int as n from ledger.universal_registry r where r::text like $1', [`%${token.token.slice(5)}%`]),
    );
    expect(row?.n).toBe(0);
    expect(token.record.tokenHash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('scopes shape what a token may reach', async () => {
    const owner = persona('owner', 'acme');
    const { token } = await registerApp(access, owner, app(['span.read']));
    expect((await decide(access, token.token)).deniedFields).toContain('Mutation.appendSpan');
    expect((await decide(access, token.token)).deniedFields).not.toContain('Query.span');
  });

  test.each([
    ['malformed', 'Bearer something'],
    ['unknown', `llos_${'A'.repeat(32)}`],
  ])('a %s token is refused', async (reason, presented) => {
    expect(await decide(access, presented)).toEqual({ isAuthorized: false, reason });
  });

  test('revoked, expired, rotated-away tokens and tokens of a revoked app are refused', async () => {
    const owner = persona('owner', 'acme');
    const { app: registered, token } = await registerApp(access, owner, app(['span.read']));
    const second = await issueToken(access, owner, registered.id, ['span.read'], 3600);
    expect((await decide(access, second.token, Date.now() + 3601 * 1000)).reason).toBe('expired');
    await revokeToken(access, owner, second.record.id);
    expect((await decide(access, second.token)).reason).toBe('revoked');
    const rotated = await rotateToken(access, owner, token.record.id);
    expect((await decide(access, token.token)).reason).toBe('revoked');
    expect((await decide(access, rotated.token)).isAuthorized).toBe(true);
    await revokeApp(access, owner, registered.id);
    expect((await decide(access, rotated.token)).isAuthorized).toBe(false);
    expect((await listTokens(access, owner, registered.id)).map((t) => t.status)).toEqual(['revoked', 'revoked', 'revoked']);
  });

  test('bad requests are refused clearly and write nothing', async () => {
    const owner = persona('owner', 'acme');
    const other = persona('other', 'acme');
    const { app: registered } = await registerApp(access, owner, app(['span.read']));
    const before = await rowCount(ledger.db);
    await expect(registerApp(access, owner, app(['span.read', 'fly']))).rejects.toMatchObject({ errorType: 'ValidationError', errorInfo: { field: 'scopes' } });
    await expect(registerApp(access, owner, app(['admin']))).rejects.toMatchObject({ errorType: 'Forbidden' });
    await expect(registerApp(access, owner, { scopes: ['span.read'] })).rejects.toMatchObject({ errorType: 'ValidationError', errorInfo: { field: 'name' } });
    await expect(issueToken(access, owner, registered.id, ['span.write'])).rejects.toMatchObject({ errorType: 'Forbidden', errorInfo: { field: 'scopes' } });
    await expect(issueToken(access, other, registered.id, ['span.read'])).rejects.toMatchObject({ errorType: 'NotFound' });
    await expect(issueToken(access, owner, registered.id, ['span.read'], 5)).rejects.toMatchObject({ errorType: 'ValidationError', errorInfo: { field: 'ttlSeconds' } });
    await expect(updateApp(access, owner, registered.id, { scopes: ['span.read', 'span.write'] })).rejects.toMatchObject({ errorType: 'Forbidden' });
    expect(await rowCount(ledger.db)).toBe(before);
  });

  test('decisions are recorded as auth.decision spans, rate-limited', async () => {
    const record = createDecisionRecorder(access, 3, 60_000);
    const before = await rowCount(ledger.db);
    const written = [];
    for (let i = 0; i < 5; i += 1) written.push(await record({ isAuthorized: false, reason: 'unknown' }, null));
    expect(written).toEqual([true, true, true, false, false]);
    expect(await rowCount(ledger.db)).toBe(before + 3);
  });
});
