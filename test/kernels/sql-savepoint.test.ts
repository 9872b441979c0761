import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readInSavepoint } from '../../functions/kernels/sql-guard.ts';
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
