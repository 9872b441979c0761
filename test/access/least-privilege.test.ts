import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { secretPassword } from '../../functions/commons/aws-config.ts';
import { asDatabaseFailure, openPostgres, type Database, type OwnerSession } from '../../functions/commons/db/index.ts';
import { ensureAppRole, scramVerifier } from '../../functions/deploy/app-role.ts';
import { handler as migrationHandler } from '../../functions/deploy/migrate.handler.ts';
import type { Ledger } from '../../functions/ledger/index.ts';
import { verifyChain } from '../../functions/ledger/verify.ts';
import { openIssuer, type LocalIssuer } from '../../local/issuer.ts';
import { createLocalServer, type LocalServer } from '../../local/server.ts';
import { backend, openTestDatabase, testSigner } from '../support/ledger.ts';

/*
 * The least-privilege layout of AWS, on the test database: the migration resource's code creates the
 * app's login role from its secret (Secrets Manager mocked at the SDK client), the API runs logged in
 * as that role, and the role is shown unable to do what a stolen Lambda credential would try.
 *
 * On PostgreSQL the role really logs in with its password (.ci/run makes the server check it for
 * loglineos_app). PGlite is one superuser session that checks no password: there the same SQL runs
 * after SET ROLE to the app role, which puts the same privilege checks in the way.
 */

const APP = 'loglineos_app';
const APP_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:loglineos-app-database';
const secrets = mockClient(SecretsManagerClient);
const secretsClient = new SecretsManagerClient({ region: 'eu-west-1' });
let secret = { username: APP, password: newPassword(), engine: 'postgres' };
secrets.on(GetSecretValueCommand, { SecretId: APP_ARN }).callsFake(() => ({ SecretString: JSON.stringify(secret) }));
const secretReads = () => secrets.commandCalls(GetSecretValueCommand, { SecretId: APP_ARN }).length;

function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

let owner: Database;
let closeOwner: () => Promise<void>;
let ownerUrl: string | undefined;
/** What the API runs on: the app role's own pool on PostgreSQL, the one PGlite session otherwise. */
let app: Database;
let server: LocalServer;
let url: string;
let issuer: LocalIssuer;
let dir: string;
const suffix = randomBytes(3).toString('hex');

beforeAll(async () => {
  const opened = await openTestDatabase();
  owner = opened.db;
  closeOwner = opened.close;
  ownerUrl = opened.url;
  if (backend === 'postgres') {
    // The migration resource as on AWS, connected as the database owner, reading the app's secret.
    vi.stubEnv('DATABASE_URL', ownerUrl ?? '');
    vi.stubEnv('LOGLINEOS_SIGNING', 'off');
    vi.stubEnv('APP_DATABASE_SECRET_ARN', APP_ARN);
    const result = await migrationHandler({ RequestType: 'Update', PhysicalResourceId: 'loglineos-ledger-migrations' });
    vi.unstubAllEnvs();
    expect(result.Data).toEqual({ Applied: '', AppRole: APP });
    const appUrl = new URL(ownerUrl ?? '');
    appUrl.username = APP;
    await requirePasswordChecked(appUrl);
    app = openPostgres({ connectionString: appUrl.toString(), max: 4, password: secretPassword(APP_ARN, APP, secretsClient) });
  } else {
    // What that handler calls after migrating, on this database.
    await ensureAppRole(owner, secret);
    app = owner;
  }
  dir = mkdtempSync(join(tmpdir(), 'least-privilege-'));
  issuer = await openIssuer(join(dir, 'issuer.json'));
  const ledger: Ledger = { db: app, signer: testSigner };
  server = await createLocalServer({ apiKey: 'da2-leastprivilege', ledger, issuer, fanoutWorkers: 0 });
  url = await server.listen(0);
});

afterAll(async () => {
  await server.close();
  if (app !== owner) await app.close();
  await closeOwner();
  // The role is the cluster's, not the test database's; a concurrent run of this file may still use it.
  if (backend === 'postgres') await dropRoleUnlessInUse();
  rmSync(dir, { recursive: true, force: true });
});

/** The rotation tests mean nothing if the server trusts the role without its password; say how to fix that. */
async function requirePasswordChecked(appUrl: URL): Promise<void> {
  const wrong = new URL(appUrl);
  wrong.password = 'not-the-password';
  const probe = openPostgres({ connectionString: wrong.toString(), max: 1 });
  const code = await probe.withOwner((tx) => tx.query('select 1')).then(() => 'ok', (error: unknown) => asDatabaseFailure(error)?.code ?? String(error));
  await probe.close();
  if (code !== '28P01') {
    throw new Error(`PostgreSQL accepted ${APP} with a wrong password (got ${code}, expected 28P01): add "host all ${APP} 127.0.0.1/32 scram-sha-256" above the trust lines of pg_hba.conf and reload (.ci/run does)`);
  }
}

async function dropRoleUnlessInUse(): Promise<void> {
  const admin = openPostgres({ connectionString: process.env.DATABASE_URL ?? '', max: 1 });
  try {
    await admin.withOwner((tx) => tx.exec(`drop role if exists ${APP}`));
  } catch (error) {
    if (asDatabaseFailure(error)?.code !== '2BP01') throw error;
  } finally {
    await admin.close();
  }
}

/** One transaction whose current_user is the app role: its own login on PostgreSQL, SET ROLE on PGlite. */
function asApp<T>(fn: (tx: OwnerSession) => Promise<T>): Promise<T> {
  if (backend === 'postgres') return app.withOwner(fn);
  return owner.withOwner(async (tx) => {
    await tx.query("select set_config('role', $1, true)", [APP]);
    return fn(tx);
  });
}

/** The SQLSTATE the statements fail with as the app role, in a transaction of their own (optionally after switching role), or 'ok'. */
async function sqlstateAsApp(statements: string | readonly string[], params: readonly unknown[] = [], switchTo?: string): Promise<string> {
  try {
    await asApp(async (tx) => {
      if (switchTo) await tx.query("select set_config('role', $1, true)", [switchTo]);
      for (const statement of typeof statements === 'string' ? [statements] : statements) await tx.query(statement, params);
    });
    return 'ok';
  } catch (error) {
    return asDatabaseFailure(error)?.code ?? `not a database error: ${String(error)}`;
  }
}

async function gql(token: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: token, ...headers }, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as { data?: Record<string, unknown> | null; errors?: { errorType: string; message: string }[] };
}

describe('the app role, as the migration resource makes it', () => {
  test('is a login role with no powers of its own, a member of loglineos_api and loglineos_ledger only, owning nothing, its password stored as a SCRAM verifier', async () => {
    // When the role's catalogue entries are read by the owner
    const [role] = await owner.withOwner((tx) =>
      tx.query<Record<string, unknown>>(
        `select rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit,
                left(rolpassword, 19) as verifier,
                array(select g.rolname::text from pg_auth_members m join pg_roles g on g.oid = m.roleid where m.member = a.oid order by 1) as member_of,
                (select count(*)::int from pg_class where relowner = a.oid) + (select count(*)::int from pg_proc where proowner = a.oid) as owns,
                pg_has_role(a.oid, 'loglineos_api', 'USAGE') as inherits_api, pg_has_role(a.oid, 'loglineos_chain', 'MEMBER') as chain_member
           from pg_authid a where rolname = $1`,
        [APP],
      ),
    );
    // Then it can log in and do nothing else by itself; it reaches the ledger only by switching role
    expect(role).toEqual({
      rolcanlogin: true,
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolreplication: false,
      rolbypassrls: false,
      rolinherit: false,
      verifier: 'SCRAM-SHA-256$4096:',
      member_of: ['loglineos_api', 'loglineos_ledger'],
      owns: 0,
      inherits_api: false,
      chain_member: false,
    });
  });

  test('a second run finds the role and changes nothing but its password and grants', async () => {
    // When the migration resource runs again with the same secret
    const report = await ensureAppRole(owner, secret);
    // Then it reports the role as existing, and the app still works
    expect(report).toEqual({ role: APP, created: false });
    await expect(asApp((tx) => tx.query<{ who: string }>('select current_user as who'))).resolves.toEqual([{ who: APP }]);
  });

  test('refuses the master user as the app role, and a role that was given more than its layout', async () => {
    // Given the owner's own name as the app's username
    const [me] = await owner.withOwner((tx) => tx.query<{ name: string }>('select current_user as name'));
    // Then the role is refused before anything changes
    await expect(ensureAppRole(owner, { username: me?.name ?? '', password: newPassword() })).rejects.toThrow(/is the migrating role itself; the API must never log in as the master user/);
    // Given someone granted the app role the definer role
    await owner.withOwner((tx) => tx.exec(`grant loglineos_chain to ${APP}`));
    try {
      // Then the next deploy fails, naming the membership and the fix
      await expect(ensureAppRole(owner, secret)).rejects.toThrow(`the app role ${APP} is also a member of loglineos_chain; it may only be a member of loglineos_api and loglineos_ledger: REVOKE loglineos_chain FROM ${APP}`);
    } finally {
      await owner.withOwner((tx) => tx.exec(`revoke loglineos_chain from ${APP}`));
    }
    // And a bad username never reaches the server
    await expect(ensureAppRole(owner, { username: 'App"; drop table x; --', password: newPassword() })).rejects.toThrow(/must be a lower-case PostgreSQL name/);
  });
});

describe('the API logged in as the app role', () => {
  test('serves appends, reads, secret memory, kernel runs and verification, and keeps tenants apart', async () => {
    // Given two users of two tenants
    const alice = await issuer.issue({ user: `alice-${suffix}`, tenant: `acme-${suffix}` });
    const bob = await issuer.issue({ user: `bob-${suffix}`, tenant: `globex-${suffix}` });
    // When alice appends a tenant span, stores a secret memory and runs a kernel
    const appended = await gql(alice, 'mutation A($i: SpanInput!) { appendSpan(input: $i) { id chainSeq } }', { i: { entityType: 'note', who: 'user:alice', did: 'wrote', this: 'acme only', visibility: 'tenant' } });
    const memory = await gql(alice, 'mutation U($i: MemoryInput!) { upsertMemory(input: $i) { id encrypted } }', { i: { content: JSON.stringify('the vault pin is 4711'), sensitivity: 'secret' } }, { 'x-logline-memory': 'on' });
    const kernel = await gql(alice, 'mutation D($i: KernelInput!) { defineKernel(input: $i) { id } }', { i: { name: `hello_${suffix}`, code: 'globalThis.default = async (ctx) => ({ hi: ctx.input.name })' } });
    const kernelId = (kernel.data?.defineKernel as { id: string } | undefined)?.id;
    const run = await gql(alice, 'mutation R($id: ID!, $input: AWSJSON) { runKernel(id: $id, input: $input) { status output } }', { id: kernelId, input: JSON.stringify({ name: 'bob' }) });
    const spanId = (appended.data?.appendSpan as { id: string } | undefined)?.id;
    const memoryId = (memory.data?.upsertMemory as { id: string } | undefined)?.id;
    // Then each worked
    expect([appended.errors, memory.errors, kernel.errors, run.errors]).toEqual([undefined, undefined, undefined, undefined]);
    expect(memory.data?.upsertMemory).toMatchObject({ encrypted: true });
    expect(run.data?.runKernel).toEqual({ status: 'complete', output: JSON.stringify({ hi: 'bob' }) });
    // And alice reads her span and her memory back, decrypted with the tenant key the role stored
    const aliceReads = await gql(alice, 'query Q($id: ID!, $m: ID!) { span(id: $id) { this } memory(id: $m) { content } }', { id: spanId, m: memoryId });
    expect(aliceReads.data).toEqual({ span: { this: 'acme only' }, memory: { content: JSON.stringify('the vault pin is 4711') } });
    // But bob, of another tenant, reads neither
    const bobReads = await gql(bob, 'query Q($id: ID!, $m: ID!) { span(id: $id) { this } memory(id: $m) { content } }', { id: spanId, m: memoryId });
    expect(bobReads.data).toEqual({ span: null, memory: null });
    // And the chain verifies through the ledger role, as `loglineos verify` would on this connection
    const report = await verifyChain({ db: app, signer: testSigner }, `acme-${suffix}`);
    const [chain] = await owner.withLedger((tx) => tx.query<{ n: number }>('select count(*)::int as n from ledger.universal_registry where chain_key = $1', [`acme-${suffix}`]));
    expect(report).toMatchObject({ ok: true, checked: chain?.n });
    expect(chain?.n).toBeGreaterThanOrEqual(4);
    // And the session that did all this is the app role's own login on PostgreSQL (PGlite has only its superuser session)
    const [session] = await app.withOwner((tx) => tx.query<{ who: string }>('select session_user as who'));
    expect(session?.who).toBe(backend === 'postgres' ? APP : 'postgres');
  });

  test('cannot read the ledger, create roles or change anything by itself', async () => {
    // When the login role acts without switching to a ledger role
    const attempts = {
      read: await sqlstateAsApp('select count(*) from ledger.universal_registry'),
      insert: await sqlstateAsApp("insert into ledger.memory_index (id, owner_id, visibility) values (gen_random_uuid(), 'x', 'private')"),
      createRole: await sqlstateAsApp('create role loglineos_intruder superuser'),
      grantItself: await sqlstateAsApp(`grant loglineos_chain to ${APP}`),
      bypassRls: await sqlstateAsApp(`alter role ${APP} bypassrls`),
      createTable: await sqlstateAsApp('create table ledger.intruder (x int)'),
      readKeysIsAllowed: await sqlstateAsApp('select count(*) from ledger.memory_keys'),
    };
    // Then everything but its one direct grant is refused for lack of privilege
    expect(attempts).toEqual({ read: '42501', insert: '42501', createRole: '42501', grantItself: '42501', bypassRls: '42501', createTable: '42501', readKeysIsAllowed: 'ok' });
  });

  test('as loglineos_api: cannot bypass row-level security, change or remove spans, touch Merkle nodes, or alter and drop tables', async () => {
    const attempts = {
      rowSecurityOff: await sqlstateAsApp(["select set_config('row_security', 'off', true)", 'select count(*) from ledger.universal_registry'], [], 'loglineos_api'),
      disableRls: await sqlstateAsApp('alter table ledger.universal_registry disable row level security', [], 'loglineos_api'),
      update: await sqlstateAsApp("update ledger.universal_registry set this = 'rewritten'", [], 'loglineos_api'),
      delete: await sqlstateAsApp('delete from ledger.universal_registry', [], 'loglineos_api'),
      truncate: await sqlstateAsApp('truncate ledger.universal_registry', [], 'loglineos_api'),
      merkleRead: await sqlstateAsApp('select count(*) from ledger.merkle_node', [], 'loglineos_api'),
      merkleWrite: await sqlstateAsApp("insert into ledger.merkle_node values ('x', 0, 0, sha256('x'))", [], 'loglineos_api'),
      alterTable: await sqlstateAsApp('alter table ledger.universal_registry add column intruder int', [], 'loglineos_api'),
      dropTable: await sqlstateAsApp('drop table ledger.universal_registry', [], 'loglineos_api'),
      dropTrigger: await sqlstateAsApp('drop trigger registry_append_only on ledger.universal_registry', [], 'loglineos_api'),
      keys: await sqlstateAsApp('select count(*) from ledger.memory_keys', [], 'loglineos_api'),
    };
    // Then each is refused: 42501 insufficient privilege, or the policy check the server applies first
    expect(attempts).toEqual({
      rowSecurityOff: '42501',
      disableRls: '42501',
      update: '42501',
      delete: '42501',
      truncate: '42501',
      merkleRead: '42501',
      merkleWrite: '42501',
      alterTable: '42501',
      dropTable: '42501',
      dropTrigger: '42501',
      keys: '42501',
    });
  });

  test('as loglineos_ledger: reads every chain but cannot write a span or a Merkle node, nor drop or alter the functions that link them (fixed by 0007)', async () => {
    const attempts = {
      read: await sqlstateAsApp('select count(*) from ledger.universal_registry', [], 'loglineos_ledger'),
      insertSpan: await sqlstateAsApp("insert into ledger.universal_registry (id, seq, entity_type, who, did, owner_id) values (gen_random_uuid(), 0, 'x', 'x', 'x', 'x')", [], 'loglineos_ledger'),
      merkleWrite: await sqlstateAsApp("insert into ledger.merkle_node values ('forged', 0, 0, sha256('x'))", [], 'loglineos_ledger'),
      merkleAddLeaf: await sqlstateAsApp("select ledger.merkle_add_leaf('forged', 1, repeat('00', 32))", [], 'loglineos_ledger'),
      // Before 0007 the ledger role owned these: DROP … CASCADE took the triggers that link chains and grow the logs with them.
      dropLinking: await sqlstateAsApp('drop function ledger.link_span() cascade', [], 'loglineos_ledger'),
      dropMerkle: await sqlstateAsApp('drop function ledger.grow_merkle_log() cascade', [], 'loglineos_ledger'),
      alterLinking: await sqlstateAsApp('alter function ledger.link_span() security invoker', [], 'loglineos_ledger'),
      nextPosition: await sqlstateAsApp("select nextval('ledger.position_seq')", [], 'loglineos_ledger'),
      switchToDefiner: await sqlstateAsApp("select set_config('role', 'loglineos_chain', true)", [], 'loglineos_ledger'),
    };
    // Then only the read succeeds (on PGlite the superuser session may switch to any role, so the
    // last attempt is PostgreSQL's answer only; PGlite shows the role is still not a member above)
    expect(attempts).toEqual({
      read: 'ok',
      insertSpan: '42501',
      merkleWrite: '42501',
      merkleAddLeaf: '42501',
      dropLinking: '42501',
      dropMerkle: '42501',
      alterLinking: '42501',
      nextPosition: '42501',
      switchToDefiner: backend === 'postgres' ? '42501' : 'ok',
    });
    // And the triggers that link the chain and grow its log are still there
    const [triggers] = await owner.withOwner((tx) => tx.query<{ names: string[] }>("select array_agg(tgname::text order by tgname) as names from pg_trigger where tgrelid = 'ledger.universal_registry'::regclass and not tgisinternal"));
    expect(triggers?.names).toEqual(expect.arrayContaining(['registry_append_only', 'registry_link', 'registry_merkle', 'registry_no_truncate']));
  });

  test('cannot become the owner or any other role of the cluster', async () => {
    const [me] = await owner.withOwner((tx) => tx.query<{ name: string }>('select current_user as name'));
    // When the app role tries to become the database owner (the master user on RDS)
    const state = await sqlstateAsApp("select set_config('role', $1, true)", [me?.name]);
    // Then PostgreSQL refuses it; PGlite's session is the superuser itself, so there it is allowed,
    // and what stops the app there is only that it cannot log in at all
    expect(state).toBe(backend === 'postgres' ? '42501' : 'ok');
  });
});

describe('password rotation', () => {
  /**
   * Holds `count` connections of `db` at once, so its pool must open new ones beyond those it keeps
   * (PGlite runs one transaction at a time, so there they run one after another). Answers each
   * connection's session user.
   */
  async function holdConnections(db: Database, count: number): Promise<string[]> {
    const sessionUser = async (tx: OwnerSession) => (await tx.query<{ who: string }>('select session_user as who'))[0]?.who ?? '';
    if (backend === 'pglite') {
      const users: string[] = [];
      for (let index = 0; index < count; index += 1) users.push(await db.withOwner(sessionUser));
      return users;
    }
    let arrived = 0;
    let release!: () => void;
    const all = new Promise<void>((resolve) => (release = resolve));
    return Promise.all(
      Array.from({ length: count }, () =>
        db.withOwner(async (tx) => {
          const who = await sessionUser(tx);
          arrived += 1;
          if (arrived === count) release();
          await all;
          return who;
        }),
      ),
    );
  }

  async function setRolePassword(password: string): Promise<void> {
    await owner.withOwner(async (tx) => {
      const [row] = await tx.query<{ statement: string }>("select format('alter role %I password %L', $1::text, $2::text) as statement", [APP, scramVerifier(password)]);
      await tx.exec(row?.statement ?? '');
    });
  }

  /** A pool of the app role as a Lambda container has it: its password from the secret, read at start. */
  function lambdaPool(max: number): Database {
    if (backend === 'pglite') return owner;
    const appUrl = new URL(ownerUrl ?? '');
    appUrl.username = APP;
    return openPostgres({ connectionString: appUrl.toString(), max, password: secretPassword(APP_ARN, APP, secretsClient, { initial: secret.password }) });
  }

  test('a warm pool picks up a rotated password by reading the secret again, without a restart', async () => {
    // Given a warm pool holding one connection opened with the current password
    const pool = lambdaPool(4);
    try {
      await holdConnections(pool, 1);
      const readsBefore = secretReads();
      // When the password is rotated as the single-user rotation does it: the role, then the secret
      const rotated = newPassword();
      await setRolePassword(rotated);
      secret = { ...secret, password: rotated };
      // And the pool needs 4 connections at once, 3 more than it has
      const sessions = await holdConnections(pool, 4);
      // Then every one works: on PostgreSQL the new ones were refused with the old password (28P01),
      // the secret was read again and the retry logged in; PGlite checks no password, reads nothing
      expect(sessions).toEqual(Array(4).fill(backend === 'postgres' ? APP : 'postgres'));
      if (backend === 'postgres') expect(secretReads()).toBeGreaterThan(readsBefore);
      else expect(secretReads()).toBe(readsBefore);
      // And the role holds a verifier of the rotated password, never the password itself
      const [stored] = await owner.withOwner((tx) => tx.query<{ verifier: string }>('select rolpassword as verifier from pg_authid where rolname = $1', [APP]));
      expect(stored?.verifier).toMatch(/^SCRAM-SHA-256\$4096:/);
      expect(stored?.verifier).not.toContain(rotated);
    } finally {
      if (pool !== owner) await pool.close();
    }
  });

  test('a password the secret does not hold fails with DatabaseCredentialsRejected after one re-read, and the same pool recovers once the secret is fixed', async () => {
    // Given a warm container's pool, and a role whose password changed but not in the secret (a rotation stopped half-way)
    const pool = lambdaPool(1);
    try {
      const orphan = newPassword();
      await setRolePassword(orphan);
      const readsBefore = secretReads();
      // When the pool needs a connection
      const failure = await pool.withOwner((tx) => tx.query('select 1')).then(
        () => undefined,
        (error: unknown) => error as { errorType?: string; message?: string },
      );
      if (backend === 'pglite') {
        // Then PGlite, which checks no password, still answers, and reads no secret
        expect(failure).toBeUndefined();
        expect(secretReads()).toBe(readsBefore);
        return;
      }
      // Then it fails with a stable errorType after exactly one more read of the secret
      expect(failure?.errorType).toBe('DatabaseCredentialsRejected');
      expect(failure?.message).toMatch(/refused the password of loglineos_app \(SQLSTATE 28P01\), also after reading it again from its secret/);
      expect(secretReads()).toBe(readsBefore + 1);
      // When the rotation finishes (the secret gets the role's password), Then the same pool works again
      secret = { ...secret, password: orphan };
      await expect(holdConnections(pool, 1)).resolves.toEqual([APP]);
    } finally {
      if (pool !== owner) await pool.close();
    }
  });
});

describe('secretPassword, the pool\'s password source', () => {
  const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ttl';
  let value = { username: APP, password: 'first-password-0001' };
  secrets.on(GetSecretValueCommand, { SecretId: ARN }).callsFake(() => ({ SecretString: JSON.stringify(value) }));
  const reads = () => secrets.commandCalls(GetSecretValueCommand, { SecretId: ARN }).length;

  test('answers from its copy until the TTL passes or the server refused it, then reads the secret again', async () => {
    // Given a source with a 60 s TTL on a clock the test moves
    let now = 0;
    const source = secretPassword(ARN, APP, secretsClient, { ttlMs: 60_000, now: () => now, initial: 'first-password-0001' });
    const before = reads();
    // When the secret rotates and time passes within the TTL
    value = { ...value, password: 'second-password-002' };
    now = 59_999;
    // Then the copy is still used
    await expect(source.current()).resolves.toBe('first-password-0001');
    expect(reads()).toBe(before);
    // When the TTL passes, Then the secret is read again once, by however many connections ask
    now = 60_000;
    const answers = await Promise.all([source.current(), source.current(), source.current()]);
    expect(answers).toEqual(Array(3).fill('second-password-002'));
    expect(reads()).toBe(before + 1);
    // When the server refuses it before the TTL, Then the next answer is read again
    value = { ...value, password: 'third-password-0003' };
    source.refresh();
    await expect(source.current()).resolves.toBe('third-password-0003');
    expect(reads()).toBe(before + 2);
  });

  test('refuses a secret that now names another user, and keeps no failed read', async () => {
    const source = secretPassword(ARN, APP, secretsClient);
    value = { username: 'ledger_admin', password: 'master-password-01' };
    await expect(source.current()).rejects.toThrow(`secret ${ARN} now names the user "ledger_admin", but this pool logs in as "${APP}"; rotate it with the single-user rotation, or redeploy so the Lambdas log in as the new user`);
    value = { username: APP, password: 'fixed-password-0004' };
    await expect(source.current()).resolves.toBe('fixed-password-0004');
  });
});
