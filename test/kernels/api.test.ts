import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { kernelSpan } from '../../functions/kernels/catalogue.ts';
import { CORE_KERNELS } from '../../functions/kernels/ids.ts';
import { hashSpan, signerFromSeed } from '../../functions/ledger/index.ts';
import { startTestServer, type TestServer } from '../support/api.ts';
import { startKernelApi, type KernelTestApi } from './support.ts';

/* The kernel fields over HTTP: reads, app token scopes, and the local interval runner. */

let api: KernelTestApi;
let hank: Record<string, string>;
beforeAll(async () => {
  api = await startKernelApi();
  hank = await api.user('hank', 'apico');
});
afterAll(() => api.close());

const ECHO = 'globalThis.default = async function main(ctx) { return ctx.input; };';

describe('kernel reads', () => {
  test('kernel, kernels and executions show what the caller can read', async () => {
    const { id } = await api.define(hank, 'listed', ECHO, { description: 'echoes' });
    await api.run(hank, id, { a: 1 });
    await api.run(hank, id, { a: 2 });
    const { data } = await api.gql<{ kernel: { name: string; code: string; description: string }; kernels: { edges: { node: { id: string } }[] }; executions: { edges: { node: { status: string; input: string; parentId: string } }[] } }>(
      hank,
      'query Q($id: ID!) { kernel(id: $id) { name code description } kernels(first: 500) { edges { node { id } } } executions(kernelId: $id) { edges { node { status input parentId } } } }',
      { id },
    );
    expect(data?.kernel).toMatchObject({ name: 'listed', description: 'echoes', code: ECHO });
    expect(data?.kernels.edges.map((edge) => edge.node.id)).toContain(id);
    expect(data?.executions.edges.map((edge) => JSON.parse(edge.node.input) as unknown)).toEqual([{ a: 1 }, { a: 2 }]);
    const stranger = await api.user('ivy', 'elsewhere');
    const hidden = await api.gql<{ kernel: unknown; executions: { edges: unknown[] } }>(stranger, 'query Q($id: ID!) { kernel(id: $id) { id } executions(kernelId: $id) { edges { cursor } } }', { id });
    expect(hidden.data).toEqual({ kernel: null, executions: { edges: [] } });
  });

  test('bad input is refused before anything runs', async () => {
    const bad = await api.gql(hank, 'mutation { defineKernel(input: { name: "Bad Name", code: "x" }) { id } }');
    expect(bad.errors?.[0]?.errorType).toBe('ValidationError');
    const notUuid = await api.run(hank, 'not-a-uuid');
    expect(notUuid.errors?.[0]?.errorType).toBe('ValidationError');
    const anonymous = await api.gql({ 'x-api-key': api.apiKey }, 'mutation { runKernel(id: "00000000-0000-4000-8000-000000000001") { status } }');
    expect(anonymous.errors?.[0]?.errorType).toBe('Unauthorized');
  });
});

describe('client-signed kernels', () => {
  test('defineKernel keeps a client signature over the span it documents, and refuses a wrong one', async () => {
    const signer = signerFromSeed(randomBytes(32).toString('hex'), 'client');
    const identity = api.identity('hank', 'apico');
    const definition = { id: randomUUID(), name: 'signed', code: ECHO, at: new Date().toISOString(), publicKey: signer.publicKeyHex };
    const span = { ...kernelSpan(identity, definition, 0), ownerId: identity.userId, tenantId: identity.tenantId, isDeleted: false };
    const signature = signer.sign(hashSpan(span));
    const ok = await api.gql<{ defineKernel: { signature: string; publicKey: string } }>(hank, 'mutation D($input: KernelInput!) { defineKernel(input: $input) { signature publicKey } }', { input: { ...definition, signature } });
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.defineKernel).toEqual({ signature, publicKey: signer.publicKeyHex });
    const forged = await api.gql(hank, 'mutation D($input: KernelInput!) { defineKernel(input: $input) { id } }', { input: { ...definition, id: randomUUID(), signature } });
    expect(forged.errors?.[0]?.errorType).toBe('SignatureInvalid');
  });
});

describe('app tokens', () => {
  test('kernel:<name>:invoke runs that kernel only', async () => {
    const { id: allowed } = await api.define(hank, 'report', ECHO);
    const { id: other } = await api.define(hank, 'other', ECHO);
    const { data } = await api.gql<{ registerApp: { token: { token: string } } }>(hank, 'mutation { registerApp(input: { name: "runner", scopes: ["kernel:report:invoke"] }) { token { token } } }');
    const token = { authorization: data!.registerApp.token.token };
    expect((await api.run(token, allowed, { ok: 1 })).data?.status).toBe('complete');
    const scheduled = await api.gql(token, 'mutation S($id: ID!) { scheduleKernel(id: $id) { id } }', { id: other });
    expect(scheduled.errors?.[0]?.errorType).toBe('Forbidden');
    const refused = await api.run(token, other);
    expect(refused.errors?.[0]).toMatchObject({ errorType: 'Forbidden' });
    expect(refused.errors?.[0]?.message).toMatch(/kernel:other:invoke/);
    const { data: reader } = await api.gql<{ registerApp: { token: { token: string } } }>(hank, 'mutation { registerApp(input: { name: "reader", scopes: ["span.read"] }) { token { token } } }');
    const noKernelScope = await api.run({ authorization: reader!.registerApp.token.token }, allowed);
    expect(noKernelScope.errors?.[0]?.errorType).toBe('Unauthorized');
  });
});

describe('app tokens and the runs inside core kernels (review S9)', () => {
  test('through run_code a token runs only the functions it also holds kernel:<name>:invoke for', async () => {
    // Given a token that may run run_code and report, and hank's function secret_job it may not run
    const { id: report } = await api.define(hank, 'report_s9', ECHO);
    const { id: secret } = await api.define(hank, 'secret_job', ECHO);
    const { data } = await api.gql<{ registerApp: { token: { token: string } } }>(hank, 'mutation { registerApp(input: { name: "nested", scopes: ["kernel:run_code:invoke", "kernel:report_s9:invoke"] }) { token { token } } }');
    const token = { authorization: data!.registerApp.token.token };
    // When it asks run_code for each
    const allowed = await api.run(token, CORE_KERNELS.run_code, { span_id: report, input: { ok: 1 } });
    const refused = await api.run(token, CORE_KERNELS.run_code, { span_id: secret });
    // Then report runs, and secret_job is refused for want of its scope, without an execution
    expect(allowed.data?.status).toBe('complete');
    expect(JSON.parse(allowed.data?.output ?? 'null')).toMatchObject({ status: 'complete' });
    expect(refused.data?.status).toBe('error');
    expect(refused.data?.error).toMatch(/kernel:secret_job:invoke/);
    const [runs] = await api.ledger.db.withOwner((tx) => tx.query<{ n: number }>("select count(*)::int as n from ledger.universal_registry where entity_type = 'execution' and parent_id = $1", [secret]));
    expect(runs?.n).toBe(0);
  });

  test("a core kernel's name cannot be taken by a user's function", async () => {
    const taken = await api.gql(hank, 'mutation D($input: KernelInput!) { defineKernel(input: $input) { id } }', { input: { name: 'run_code', code: ECHO } });
    expect(taken.errors?.[0]?.errorType).toBe('ValidationError');
    expect(taken.errors?.[0]?.message).toMatch(/core kernel/);
  });
});

describe('the local interval runner', () => {
  let server: TestServer;
  afterAll(() => server?.close());

  test('with LOGLINEOS_KERNEL_INTERVAL_MS set, a scheduled function is observed, run and completed without anyone asking', async () => {
    server = await startTestServer({ env: { ...process.env, LOGLINEOS_KERNEL_INTERVAL_MS: '100' } });
    const headers = { authorization: await server.issuer.issue({ user: `jo-${api.suffix}`, tenant: `tick-${api.suffix}` }) };
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: 'mutation D($input: KernelInput!) { defineKernel(input: $input) { id } }', variables: { input: { name: 'cron', code: ECHO, status: 'scheduled' } } }) });
    const id = ((await response.json()) as { data: { defineKernel: { id: string } } }).data.defineKernel.id;
    let status: string | undefined;
    for (let attempt = 0; attempt < 200 && status !== 'complete'; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [row] = await server.ledger.db.withOwner((tx) => tx.query<{ status: string }>("select status from ledger.universal_registry where entity_type = 'request' and parent_id = $1 order by seq desc limit 1", [id]));
      status = row?.status;
    }
    expect(status).toBe('complete');
  });
});
