import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CORE_KERNELS } from '../../functions/kernels/ids.ts';
import { appendSpan, signerFromSeed } from '../../functions/ledger/index.ts';
import { startKernelApi, type KernelTestApi } from './support.ts';

/*
 * Stage-0: the manifest's allow-list, the kernel's hash and signature, and a span for every refusal.
 */

let api: KernelTestApi;
let bob: Record<string, string>;
let admin: Record<string, string>;
beforeAll(async () => {
  api = await startKernelApi();
  bob = await api.user('bob', 'acme');
  admin = await api.user('root', null, ['admin']);
});
afterAll(() => api.close());

const CODE = 'globalThis.default = async function main(ctx) { return { booted: true, input: ctx.input }; };';

async function allow(...ids: string[]): Promise<void> {
  const current = await api.gql<{ manifest: { allowedBootIds: string[] } }>(admin, '{ manifest { allowedBootIds } }');
  const allowed = [...new Set([...(current.data?.manifest.allowedBootIds ?? []), ...ids])];
  const { errors } = await api.gql(admin, 'mutation P($ids: [ID!]) { publishManifest(input: { allowedBootIds: $ids }) { seq } }', { ids: allowed });
  expect(errors).toBeUndefined();
}

async function refusals(kernelId: string): Promise<{ did: string; status: string; error: string }[]> {
  const rows = await api.ledger.db.withOwner((tx) =>
    tx.query<{ did: string; status: string; error: { code: string } }>("select did, status, error from ledger.universal_registry where entity_type = 'boot_event' and $1 = any(related_to) order by position", [kernelId]),
  );
  return rows.map((row) => ({ did: row.did, status: row.status, error: row.error?.code }));
}

/** A function span of bob's written straight through the ledger (unsigned, or signed by `seedHex`'s key). */
async function bobKernel(seedHex?: string, code = CODE): Promise<string> {
  const span = await appendSpan({ db: api.ledger.db, ...(seedHex ? { signer: signerFromSeed(seedHex, 'elsewhere') } : {}) }, api.identity('bob', 'acme'), {
    entityType: 'function', who: 'user:bob', did: 'defined', this: 'kernel', name: 'outsider', code, status: 'active',
  });
  return span.id;
}

/** Registers a new device key for the user through the API (registerApp, registerDevice); returns its seed. */
async function registeredDevice(headers: Record<string, string>): Promise<string> {
  const seed = randomBytes(32).toString('hex');
  const device = signerFromSeed(seed, 'device');
  const { data } = await api.gql<{ registerApp: { app: { id: string } } }>(headers, 'mutation { registerApp(input: { name: "signer", scopes: ["span.read"] }) { app { id } } }');
  const fingerprint = createHash('sha256').update(Buffer.from(device.publicKeyHex, 'hex')).digest('hex');
  const registered = await api.gql(headers, 'mutation R($app: ID!, $key: String!, $fp: String!) { registerDevice(appId: $app, publicKey: $key, fingerprint: $fp) { id status } }', { app: data?.registerApp.app.id, key: device.publicKeyHex, fp: fingerprint });
  expect(registered.errors).toBeUndefined();
  return seed;
}

describe('stage-0 boots what the manifest allows', () => {
  test('a core kernel boots: boot_event, then the execution', async () => {
    const run = await api.run(bob, CORE_KERNELS.observer, {}, 'bootKernel');
    expect(run.errors).toBeUndefined();
    expect(run.data?.status).toBe('complete');
    expect(run.data?.bootEvent?.id).toBeTruthy();
    expect(run.data?.execution?.parentId).toBe(CORE_KERNELS.observer);
    const [boot] = await api.ledger.db.withOwner((tx) => tx.query<{ who: string; did: string }>('select who, did from ledger.universal_registry where id = $1', [run.data?.bootEvent?.id]));
    expect(boot).toEqual({ who: 'edge:stage0', did: 'booted' });
  });

  test('an id that is not in the manifest is refused, and the refusal is recorded', async () => {
    const { id } = await api.define(bob, 'not_listed', CODE);
    const run = await api.run(bob, id, null, 'bootKernel');
    expect(run.errors?.[0]?.errorType).toBe('KernelNotAllowed');
    expect(run.errors?.[0]?.message).toMatch(/allowed_boot_ids/);
    expect(await refusals(id)).toEqual([{ did: 'refused', status: 'refused', error: 'KernelNotAllowed' }]);
    // runKernel (no stage-0) still runs the caller's own function
    expect((await api.run(bob, id)).data?.status).toBe('complete');
  });

  test('an allowed id with no kernel behind it is refused as not found', async () => {
    const unknown = randomUUID();
    await allow(unknown);
    const run = await api.run(bob, unknown, null, 'bootKernel');
    expect(run.errors?.[0]?.errorType).toBe('KernelNotFound');
    expect(await refusals(unknown)).toEqual([{ did: 'refused', status: 'refused', error: 'KernelNotFound' }]);
  });

  test('a kernel whose code was edited in the database is refused (hash mismatch)', async () => {
    const id = await bobKernel(await registeredDevice(bob));
    await allow(id);
    expect((await api.run(bob, id, null, 'bootKernel')).data?.status).toBe('complete');
    // Given someone with database access rewrites the stored code behind the API
    await api.ledger.db.withOwner(async (tx) => {
      await tx.query('alter table ledger.universal_registry disable trigger registry_append_only');
      await tx.query("update ledger.universal_registry set code = 'globalThis.default = async () => \"owned\";' where id = $1", [id]);
      await tx.query('alter table ledger.universal_registry enable trigger registry_append_only');
    });
    // When it is booted, stage-0 recomputes the hash and refuses it
    const run = await api.run(bob, id, null, 'bootKernel');
    expect(run.errors?.[0]?.errorType).toBe('KernelHashMismatch');
    expect(run.errors?.[0]?.message).toMatch(/changed after it was written/);
    expect((await refusals(id)).at(-1)).toEqual({ did: 'refused', status: 'refused', error: 'KernelHashMismatch' });
    // runKernel checks the hash too
    expect((await api.run(bob, id)).errors?.[0]?.errorType).toBe('KernelHashMismatch');
  });

  test('a tampered core kernel is refused', async () => {
    await api.ledger.db.withOwner(async (tx) => {
      await tx.query('alter table ledger.universal_registry disable trigger registry_append_only');
      await tx.query("update ledger.universal_registry set code = code || ' ' where id = $1", [CORE_KERNELS.provider_exec]);
      await tx.query('alter table ledger.universal_registry enable trigger registry_append_only');
    });
    const run = await api.run(bob, CORE_KERNELS.provider_exec, { provider_id: randomUUID(), prompt: 'hi' }, 'bootKernel');
    expect(run.errors?.[0]?.errorType).toBe('KernelHashMismatch');
  });

  test('an unsigned kernel is refused while signatures are required, and boots when they are not', async () => {
    const id = await bobKernel();
    await allow(id);
    const run = await api.run(bob, id, null, 'bootKernel');
    expect(run.errors?.[0]?.errorType).toBe('KernelSignatureInvalid');
    expect(run.errors?.[0]?.message).toMatch(/not signed/);
    expect((await refusals(id)).at(-1)?.error).toBe('KernelSignatureInvalid');
    await api.gql(admin, 'mutation { publishManifest(input: { signaturesRequired: false }) { seq } }');
    try {
      expect((await api.run(bob, id, null, 'bootKernel')).data?.status).toBe('complete');
    } finally {
      await api.gql(admin, 'mutation { publishManifest(input: { signaturesRequired: true }) { seq } }');
    }
  });

  test('a kernel signed by a key that is neither the deployment key nor a registered device is refused', async () => {
    const id = await bobKernel(randomBytes(32).toString('hex'));
    await allow(id);
    const run = await api.run(bob, id, null, 'bootKernel');
    expect(run.errors?.[0]?.errorType).toBe('KernelSignatureInvalid');
    expect(run.errors?.[0]?.message).toMatch(/neither the deployment key nor an active device key registered by the kernel's owner/);
    expect((await refusals(id)).at(-1)?.error).toBe('KernelSignatureInvalid');
  });
});

describe('who a kernel is signed by (review S4)', () => {
  test("a kernel signed by one of the caller's registered, active device keys boots", async () => {
    const id = await bobKernel(await registeredDevice(bob));
    await allow(id);
    const run = await api.run(bob, id, { from: 'device' }, 'bootKernel');
    expect(run.errors).toBeUndefined();
    expect(run.data?.status).toBe('complete');
  });

  test("a user's kernel that only the ledger signed (defineKernel without a client signature) is refused while signatures are required", async () => {
    // Given bob's kernel defined through the API: the ledger signs it with the deployment key
    const { id } = await api.define(bob, 'ledger_signed', CODE);
    const [stored] = await api.ledger.db.withOwner((tx) => tx.query<{ public_key: string }>('select public_key from ledger.universal_registry where id = $1', [id]));
    expect(stored?.public_key).toBe(api.ledger.signer?.publicKeyHex);
    await allow(id);
    // When it is booted, the deployment's signature does not count for a user's code
    const run = await api.run(bob, id, null, 'bootKernel');
    expect(run.errors?.[0]?.errorType).toBe('KernelSignatureInvalid');
    expect(run.errors?.[0]?.message).toMatch(/not signed by its owner/);
    // and without the requirement it boots
    await api.gql(admin, 'mutation { publishManifest(input: { signaturesRequired: false }) { seq } }');
    try {
      expect((await api.run(bob, id, null, 'bootKernel')).data?.status).toBe('complete');
    } finally {
      await api.gql(admin, 'mutation { publishManifest(input: { signaturesRequired: true }) { seq } }');
    }
  });

  test('a kernel signed by a key from a device span the user appended by hand is refused', async () => {
    // Given bob appends an active device span for his own key, without registerDevice
    const seed = randomBytes(32).toString('hex');
    const key = signerFromSeed(seed, 'device').publicKeyHex;
    const device = await api.gql(bob, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', {
      input: { entityType: 'device', who: 'user:bob', did: 'registered', this: 'my device', status: 'active', content: JSON.stringify({ publicKey: key }) },
    });
    expect(device.errors).toBeUndefined();
    const id = await bobKernel(seed, `${CODE} // hand`);
    await allow(id);
    const run = await api.run(bob, id, null, 'bootKernel');
    expect(run.errors?.[0]?.errorType).toBe('KernelSignatureInvalid');
    expect(run.errors?.[0]?.message).toMatch(/registered by the kernel's owner/);
  });

  test("a kernel signed by another tenant's registered device is refused", async () => {
    // Given eve, in another tenant, registers a device key through the API
    const eve = await api.user('eve', 'elsewhere');
    const seed = await registeredDevice(eve);
    // When bob's kernel carries a signature by that key
    const id = await bobKernel(seed, `${CODE} // eve`);
    await allow(id);
    const run = await api.run(bob, id, null, 'bootKernel');
    // Then it is refused: the key is not one of bob's devices
    expect(run.errors?.[0]?.errorType).toBe('KernelSignatureInvalid');
    expect(run.errors?.[0]?.message).toMatch(/registered by the kernel's owner/);
  });
});

describe('the manifest', () => {
  test('is readable, and only the admin group may publish it', async () => {
    const read = await api.gql<{ manifest: { allowedBootIds: string[]; signaturesRequired: boolean; span: { publicKey: string } } }>(bob, '{ manifest { allowedBootIds signaturesRequired perTenantDailyExecLimit span { publicKey } } }');
    expect(read.data?.manifest.allowedBootIds).toEqual(expect.arrayContaining(Object.values(CORE_KERNELS)));
    expect(read.data?.manifest.span.publicKey).toBe(api.ledger.signer?.publicKeyHex);
    const refused = await api.gql(bob, 'mutation { publishManifest(input: { perTenantDailyExecLimit: 1000000 }) { seq } }');
    expect(refused.errors?.[0]?.errorType).toBe('Forbidden');
    const bad = await api.gql(admin, 'mutation { publishManifest(input: { timeoutMs: 600000 }) { seq } }');
    expect(bad.errors?.[0]?.errorType).toBe('ValidationError');
  });
});
