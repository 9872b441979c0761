import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { runCheckpointPass, WITNESS_MISSED } from '../../functions/api/ledger/checkpoint-pass.ts';
import { LEDGER_DATA_SOURCE } from '../../functions/api/ledger/data-source.ts';
import type { LedgerServices } from '../../functions/api/ledger/services.ts';
import type { SpanEvent } from '../../functions/commons/publisher.ts';
import { openCheckpoint } from '../../functions/ledger/checkpoint-note.ts';
import { appendSpan } from '../../functions/ledger/index.ts';
import { WITNESS_BUCKET_VARIABLE } from '../../infra/lib/checkpoint-bucket.ts';
import { openTestLedger, persona, testSigner, type TestLedger } from '../support/ledger.ts';

/*
 * The LedgerCheckpoints job as the CDK app deploys it (handler `scheduled` of
 * functions/api/ledger.handler.ts): the ledger data source's services built from the environment the
 * stack gives the function, one pass against a real ledger, the S3 witness mocked at the SDK client.
 */

const BUCKET = 'loglineos-test-checkpoints';
const s3 = mockClient(S3Client);
const published: SpanEvent[] = [];
let ledger: TestLedger;
let services: LedgerServices & { close?(): Promise<void> };

beforeAll(async () => {
  ledger = await openTestLedger();
  services = await LEDGER_DATA_SOURCE.services({
    ledger,
    publisher: { publish: async (event) => void published.push(event) },
    tokenSecret: Buffer.alloc(32, 7),
    env: { [WITNESS_BUCKET_VARIABLE]: BUCKET },
  });
});
afterAll(async () => {
  await services.close?.();
  await ledger.close();
  s3.restore();
});
beforeEach(() => {
  s3.reset();
  published.length = 0;
});

/** A tenant of its own whose chain has `n` spans. */
async function tenantWith(n: number): Promise<string> {
  const who = persona('writer', 'checkpoints');
  for (let i = 0; i < n; i += 1) await appendSpan(ledger, who, { entityType: 'note', who: 'user:test', did: 'wrote', this: `span ${i}` });
  return who.tenantId ?? '';
}

const putsOf = () => s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);

describe('the LedgerCheckpoints job', () => {
  test('checkpoints a grown log into the witness bucket, publishes its span and reports origin and size', async () => {
    // given a tenant with three spans, and a bucket that accepts puts
    const tenant = await tenantWith(3);
    s3.on(PutObjectCommand).resolves({});
    // when a pass runs
    const report = await runCheckpointPass(services);
    // then the tenant's log was checkpointed at size 3, witnessed by S3 with no failure
    const origin = `loglineos.local/tenant/${tenant}`;
    expect(report.checkpoints).toContainEqual({ origin, treeSize: 3, witnessed: ['s3'], witnessFailures: [] });
    // and the note went to the bucket under checkpoints/<origin>/, checksummed, signed by the deployment key
    const put = putsOf().find((input) => String(input.Key).startsWith(`checkpoints/${origin}/`));
    expect(put).toMatchObject({ Bucket: BUCKET, ChecksumAlgorithm: 'SHA256', ContentType: 'text/plain; charset=utf-8' });
    expect(put?.Key).toMatch(new RegExp(`^checkpoints/${origin}/0{15}3-.+\\.note$`));
    const opened = openCheckpoint(String(put?.Body), 'loglineos.local', new Uint8Array(Buffer.from(testSigner.publicKeyHex, 'hex')));
    expect(opened).toMatchObject({ origin, size: 3 });
    // and each checkpoint span of the pass was published to the live timeline, the tenant's among them
    expect(published.map((event) => event.entityType)).toEqual(report.checkpoints.map(() => 'ledger_checkpoint'));
    expect(published.map((event) => event.tenantId)).toContain(tenant);
    expect(putsOf()).toHaveLength(report.checkpoints.length);
  });

  test('a log that grew only by its own checkpoint is not due again', async () => {
    // given a pass that has just checkpointed everything
    s3.on(PutObjectCommand).resolves({});
    await tenantWith(2);
    await runCheckpointPass(services);
    s3.reset();
    published.length = 0;
    // when the next pass runs a minute later on the schedule
    const report = await runCheckpointPass(services);
    // then nothing is written, put or published
    expect(report.checkpoints).toEqual([]);
    expect(putsOf()).toEqual([]);
    expect(published).toEqual([]);
  });

  test('a bucket that refuses the put is reported and logged, and the checkpoint is still in the ledger and published', async () => {
    // given a grown log, and a bucket refusing puts
    const tenant = await tenantWith(1);
    s3.on(PutObjectCommand).rejects(new Error('Access Denied'));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      // when a pass runs
      const report = await runCheckpointPass(services);
      // then the pass completes, reporting the witness failure for the tenant's log
      const origin = `loglineos.local/tenant/${tenant}`;
      expect(report.checkpoints).toContainEqual({ origin, treeSize: 1, witnessed: [], witnessFailures: ['s3: Access Denied'] });
      // and the failure is logged as an error with the log it concerns
      const lines = logged.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
      expect(lines).toContainEqual({ level: 'error', message: WITNESS_MISSED, origin, treeSize: 1, failures: ['s3: Access Denied'] });
      // and the checkpoint span was written and published all the same
      expect(published.map((event) => event.tenantId)).toContain(tenant);
    } finally {
      logged.mockRestore();
    }
  });
});
