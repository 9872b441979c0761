import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.ts';
import { testSigner } from '../support/ledger.ts';

/*
 * `npx loglineos witness` and `npx loglineos verify-proof` against the local server, as an auditor
 * would run them: the log's key on the command line, checkpoints kept in a folder between runs.
 */

const run = promisify(execFile);
let api: TestApi;
let dir: string;
beforeAll(async () => {
  api = await startTestApi();
  dir = mkdtempSync(join(tmpdir(), 'cli-proofs-'));
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ['bin/loglineos.mjs', ...args, '--url', api.url, '--public-key', testSigner.publicKeyHex, '--dir', join(dir, 'kept')], {
      env: { ...process.env, LOGLINEOS_DATA_DIR: join(dir, 'data') },
    });
    return { code: 0, out: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: `${failed.stdout}${failed.stderr}` };
  }
}

describe('the proof commands', () => {
  test('witness keeps a tenant log moving forward, verify-proof checks a span, and both catch a rewritten history', async () => {
    // given a tenant with spans, and an auditor of that tenant
    const suffix = randomBytes(3).toString('hex');
    const tenant = `audited-${suffix}`;
    const token = await api.token(`auditor-${suffix}`, tenant);
    const append = async (text: string) => {
      const { body } = await api.request({ authorization: token }, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', {
        input: { entityType: 'note', who: 'auditor', did: 'wrote', this: text, visibility: 'tenant', content: JSON.stringify({ text }) },
      });
      return (body.data?.appendSpan as { id: string }).id;
    };
    const first = await append('one');
    await append('two');
    // when the auditor witnesses the log, more is appended, and it witnesses again
    const initial = await cli('witness', '--tenant', tenant, '--token', token);
    expect(initial).toMatchObject({ code: 0, out: expect.stringMatching(/ok .*\/tenant\/audited-\w+: first checkpoint, to size 2/) });
    await append('three');
    expect(await cli('witness', '--tenant', tenant, '--token', token)).toMatchObject({ code: 0, out: expect.stringMatching(/from size 2 to size 3/) });
    expect(readdirSync(join(dir, 'kept'))).toHaveLength(1);
    // and a span is checked against its log
    expect(await cli('verify-proof', '--span', first, '--token', token)).toMatchObject({ code: 0, out: expect.stringMatching(/is leaf 0 of .* at size 3; its hash and signature verify/) });

    // when a superuser edits span one in place (its content, no recomputation)
    await api.ledger.db.withOwner(async (tx) => {
      await tx.query('set local session_replication_role = replica');
      await tx.query(`update ledger.universal_registry set content = '{"text": "forged"}' where id = $1`, [first]);
    });
    // then verify-proof names the altered span
    expect(await cli('verify-proof', '--span', first, '--token', token)).toMatchObject({ code: 1, out: expect.stringMatching(/FAIL .*bad_span: .*the span was altered/) });

    // when he also recomputes its hash and rebuilds the log's Merkle nodes to match
    await api.ledger.db.withOwner(async (tx) => {
      await tx.query('set local session_replication_role = replica');
      await tx.query("update ledger.universal_registry set curr_hash = encode(sha256('forged'), 'hex') where id = $1", [first]);
      await tx.query('delete from ledger.merkle_node where chain_key = $1', [tenant]);
      await tx.query(`insert into ledger.merkle_node (chain_key, level, idx, hash)
        select chain_key, 0, chain_seq - 1, sha256('\\x00'::bytea || decode(curr_hash, 'hex')) from ledger.universal_registry where chain_key = $1`, [tenant]);
      await tx.query(`insert into ledger.merkle_node (chain_key, level, idx, hash)
        select a.chain_key, 1, a.idx / 2, sha256('\\x01'::bytea || a.hash || b.hash) from ledger.merkle_node a join ledger.merkle_node b
          on b.chain_key = a.chain_key and b.level = 0 and b.idx = a.idx + 1 where a.chain_key = $1 and a.level = 0 and a.idx % 2 = 0`, [tenant]);
    });
    // then the witness refuses the log: it no longer extends the checkpoint kept before
    const after = await cli('witness', '--tenant', tenant, '--token', token);
    expect(after).toMatchObject({ code: 1, out: expect.stringMatching(/FAIL .*inconsistent/) });
  }, 120_000);

  test('without a key to trust, the commands refuse to run rather than take the server at its word', async () => {
    const { stderr } = await run(process.execPath, ['bin/loglineos.mjs', 'witness', '--url', api.url, '--api-key', api.apiKey, '--dir', join(dir, 'none')], {
      env: { ...process.env, LOGLINEOS_DATA_DIR: join(dir, 'empty') },
    }).catch((error: { stderr: string }) => ({ stderr: error.stderr }));
    expect(stderr).toMatch(/pass --public-key <hex>/);
  });
});
