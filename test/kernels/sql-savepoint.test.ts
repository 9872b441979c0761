import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readInSavepoint, runKernelSql } from '../../functions/kernels/sql-guard.ts';
import { appendSpan } from '../../functions/ledger/index.ts';
import { openTestLedger, persona, type TestLedger } from '../support/ledger.ts';

/*
 * The savepoint layers of ctx.sql without the statement check in front of them: whatever a statement
 * changes in the session is undone, and it cannot write.
 */

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await openTestLedger();
});
afterAll(() => ledger.close());

const whoAmI = "select current_user as role, current_setting('app.user_id') as uid, current_setting('transaction_read_only') as ro";

describe('the read-only savepoint', () => {
  test('settings a statement changes (role, identity) are undone before the next one', async () => {
    const kim = persona('kim', 'acme');
    const after = await ledger.db.withSession(kim, async (tx) => {
      // Given a statement that takes the session's login role and another user's identity
      const changed = await readInSavepoint(tx, "select set_config('role', session_user, true) as r, set_config('app.user_id', 'someone-else', true) as u", [], 1000);
      expect(changed).toEqual([{ r: expect.any(String), u: 'someone-else' }]);
      // and one that tries to leave read-only mode
      const readWrite = await readInSavepoint(tx, "select set_config('transaction_read_only', 'off', true)", [], 1000).catch((error: Error) => error.message);
      expect(readWrite).toMatch(/read-write|read-only/);
      return tx.query(whoAmI);
    });
    expect(after).toEqual([{ role: 'loglineos_api', uid: kim.userId, ro: 'off' }]);
  });

  test('writes fail inside it, and the transaction goes on', async () => {
    const kim = persona('kim', 'acme');
    const outcome = await ledger.db.withSession(kim, async (tx) => {
      const refused = await readInSavepoint(tx, "insert into ledger.universal_registry (id, seq, entity_type, who, did, \"this\", owner_id, curr_hash) values (gen_random_uuid(), 0, 'x', 'x', 'x', 'x', $1, repeat('0', 64))", [kim.userId], 1000).catch((error: Error) => error.message);
      const [row] = await tx.query<{ one: number }>('select 1 as one');
      return { refused, one: row?.one };
    });
    expect(outcome.refused).toMatch(/read-only transaction/);
    expect(outcome.one).toBe(1);
  });
});

describe('statements hidden behind a `$` (review S1)', () => {
  const hiddenSetConfig = "select r.owner_id, r.content from ledger.universal_registry r where (select 1 as x$q$ from (select set_config('app.user_id', $1, true)) s)=1 and 'y$q$'<>''";
  const hiddenScript =
    'select 1 as a$q$; rollback to savepoint kernel_sql; reset role; alter table ledger.universal_registry disable trigger registry_append_only; create table ledger.pwned as select current_user; commit; select 1 as b$q$';

  test("a set_config hidden after an identifier ending in $q$ is refused, and the victim's private row is not read", async () => {
    // Given a victim's private span and an attacker in another tenant
    const victim = persona('victim', 'other');
    const attacker = persona('attacker', 'acme');
    await appendSpan(ledger, victim, { entityType: 'note', who: 'user:victim', did: 'wrote', this: 'secret', visibility: 'private', content: { secret: 'victim-only' } });
    // When the attacker's kernel sends the statement through ctx.sql
    const outcome = await ledger.db.withSession(attacker, (tx) => runKernelSql(tx, hiddenSetConfig.replace('$1', `'${victim.userId}'`), [], 1000).then(
      (rows) => ({ rows, refused: null }),
      (error: Error) => ({ rows: null, refused: error.message }),
    ));
    // Then it is refused before it runs
    expect(outcome).toEqual({ rows: null, refused: expect.stringMatching(/set_config/) });
  });

  test('a script of several statements is refused whole by the database, even without the check in front', async () => {
    const kim = persona('kim', 'acme');
    // When the savepoint layer alone is handed a multi-statement text with no parameters
    const refused = await ledger.db.withSession(kim, (tx) => readInSavepoint(tx, hiddenScript, [], 1000).then(() => null, (error: Error) => error.message));
    // Then the database refuses it (extended protocol: one statement per query)
    expect(refused).toMatch(/multiple commands/);
    // and none of it ran: the append-only trigger is on and no table was created
    const [state] = await ledger.db.withOwner((tx) =>
      tx.query<{ enabled: string; pwned: string | null }>("select tgenabled as enabled, to_regclass('ledger.pwned')::text as pwned from pg_trigger where tgname = 'registry_append_only'"),
    );
    expect(state).toEqual({ enabled: 'O', pwned: null });
  });

  test.each(['withSession', 'withLedger', 'withOwner'] as const)('query() with two statements and no parameters is refused (%s)', async (kind) => {
    const kim = persona('kim', 'acme');
    const both = (tx: { query: (text: string) => Promise<unknown> }) => tx.query('select 1; select 2').then(() => 'ran', (error: Error) => error.message);
    const outcome = kind === 'withSession' ? await ledger.db.withSession(kim, both) : kind === 'withLedger' ? await ledger.db.withLedger(both) : await ledger.db.withOwner(both);
    expect(outcome).toMatch(/multiple commands/);
  });
});
