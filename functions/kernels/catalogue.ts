import type { Identity } from '../commons/db/index.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../commons/errors.ts';
import { isAdmin } from '../commons/identity.ts';
import { appendSpanInSession, isUuid, latestVersion, listSpans, SEED_OWNER, type Ledger, type Page, type Span } from '../ledger/index.ts';
import { CORE_KERNEL_NAMES, isReservedId, MANIFEST_ID } from './ids.ts';
import { manifestFromMetadata, readManifest, type Manifest } from './manifest.ts';

export interface KernelDefinition {
  readonly id?: string | null;
  readonly name: string;
  readonly description?: string | null;
  readonly code: string;
  readonly visibility?: string | null;
  readonly status?: string | null;
  readonly metadata?: unknown;
  /** For a client-signed kernel: the time, key and signature the client used (docs/kernels.md). */
  readonly at?: string | null;
  readonly publicKey?: string | null;
  readonly signature?: string | null;
}

const NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** The function span a definition becomes; a client that signs builds exactly this and hashes it. */
export function kernelSpan(caller: Identity, definition: KernelDefinition, seq: number | null): Record<string, unknown> {
  if (typeof definition.name !== 'string' || !NAME.test(definition.name)) {
    throw new ValidationError('name', definition.name, 'must be lowercase letters, digits and _ starting with a letter (at most 64)', 'Name the kernel like run_report; it is also its token scope kernel:<name>:invoke.');
  }
  if (typeof definition.code !== 'string' || !/globalThis\.default\s*=/.test(definition.code)) {
    throw new ValidationError('code', definition.code, 'must set globalThis.default to the kernel function', 'Write globalThis.default = async function main(ctx) { … }.');
  }
  return {
    ...(definition.id ? { id: definition.id } : {}),
    ...(seq !== null ? { seq } : {}),
    entityType: 'function',
    who: `user:${caller.userId}`,
    did: 'defined',
    this: `kernel ${definition.name}`,
    name: definition.name,
    description: definition.description ?? null,
    code: definition.code,
    language: 'javascript',
    runtime: 'quickjs',
    visibility: definition.visibility ?? 'private',
    status: definition.status ?? 'active',
    metadata: definition.metadata ?? null,
    ...(definition.at ? { at: definition.at } : {}),
    ...(definition.publicKey ? { publicKey: definition.publicKey, sigAlg: 'ed25519' } : {}),
    ...(definition.signature ? { signature: definition.signature } : {}),
  };
}

/** Defines a kernel, or a new version of one of yours (same id). */
export function defineKernel(ledger: Ledger, caller: Identity, definition: KernelDefinition): Promise<Span> {
  if (typeof definition.id === 'string' && isReservedId(definition.id) && caller.userId !== SEED_OWNER.userId) {
    throw new ValidationError('id', definition.id, 'is in the range reserved for the system (00000000-0000-4000-8000-0000000000xx)', 'Leave id out to define a new kernel, or pass the id of one of your own kernels.');
  }
  // A core kernel's name is its token scope (kernel:run_code:invoke); no one else's function takes it.
  if ((CORE_KERNEL_NAMES as readonly string[]).includes(definition.name) && caller.userId !== SEED_OWNER.userId) {
    throw new ValidationError('name', definition.name, "is the name of a core kernel, and names are token scopes (kernel:<name>:invoke)", 'Choose another name.');
  }
  return ledger.db.withSession(caller, async (tx) => {
    const previous = definition.id ? await latestVersion(tx, definition.id) : null;
    if (previous && previous.entityType !== 'function') throw new ValidationError('id', definition.id, `is a ${previous.entityType} span, not a function`, 'Leave id out to define a new kernel.');
    return appendSpanInSession(tx, caller, kernelSpan(caller, definition, previous ? previous.seq + 1 : definition.id ? 0 : null), ledger.signer);
  });
}

/** Schedules a run: a request span, picked up by request_worker. Returns it at once. */
export function scheduleKernel(ledger: Ledger, caller: Identity, kernelId: string, input: unknown, scopes: readonly string[] | null = null): Promise<Span> {
  if (!isUuid(kernelId)) throw new ValidationError('id', kernelId, 'must be a function span id (a UUID)', 'Send the id of a function span you can read.');
  return ledger.db.withSession(caller, async (tx) => {
    const kernel = await latestVersion(tx, kernelId);
    if (!kernel || kernel.entityType !== 'function' || kernel.isDeleted) throw new NotFoundError(`no function span ${kernelId} that you can read`, { id: kernelId });
    const name = kernel.name ?? kernel.id;
    if (scopes && !scopes.includes('admin') && !scopes.includes(`kernel:${name}:invoke`)) {
      throw new ForbiddenError(`this token may not schedule kernel ${JSON.stringify(name)}: it needs the scope kernel:${name}:invoke`, { kernelId, scope: `kernel:${name}:invoke` });
    }
    return appendSpanInSession(tx, caller, {
      entityType: 'request', who: `user:${caller.userId}`, did: 'scheduled', this: `run ${kernel.name ?? kernel.id}`,
      parentId: kernel.id, relatedTo: [kernel.id], status: 'scheduled', input: (input ?? null) as never, scheduledAt: new Date().toISOString(),
    }, ledger.signer);
  });
}

export function listKernels(ledger: Ledger, caller: Identity | null, first?: number | null, after?: string | null): Promise<Page> {
  return listSpans(ledger, caller, { entityTypes: ['function'] }, first, after);
}

export function listExecutions(ledger: Ledger, caller: Identity | null, kernelId: string, first?: number | null, after?: string | null): Promise<Page> {
  return listSpans(ledger, caller, { entityTypes: ['execution'], parentId: kernelId }, first, after);
}

export async function currentManifest(ledger: Ledger, caller: Identity | null): Promise<{ manifest: Manifest; span: Span } | null> {
  return ledger.db.withSession(caller, (tx) => readManifest(tx));
}

/**
 * Publishes a new manifest version (admin group only). It is written as the system, which owns the
 * manifest, and signed by the deployment key. It keeps the seed digest of the version it replaces,
 * so re-applying the same seeds does not put the seeded settings back.
 */
export async function publishManifest(ledger: Ledger, caller: Identity | null, changes: Record<string, unknown>): Promise<{ manifest: Manifest; span: Span }> {
  if (!isAdmin(caller)) throw new ForbiddenError('publishing the manifest needs the admin group', { fix: 'Ask an administrator.' });
  return ledger.db.withSession(SEED_OWNER, async (tx) => {
    const current = await latestVersion(tx, MANIFEST_ID);
    const base = (current?.metadata ?? {}) as Record<string, unknown>;
    const metadata: Record<string, unknown> = { ...base };
    const nested = (key: string) => ({ ...((base[key] as Record<string, unknown> | undefined) ?? {}) });
    if (changes.allowedBootIds !== undefined && changes.allowedBootIds !== null) metadata.allowed_boot_ids = changes.allowedBootIds;
    if (changes.kernels !== undefined && changes.kernels !== null) metadata.kernels = changes.kernels;
    if (changes.perTenantDailyExecLimit != null) metadata.throttle = { ...nested('throttle'), per_tenant_daily_exec_limit: changes.perTenantDailyExecLimit };
    if (changes.slowMs != null || changes.timeoutMs != null) {
      metadata.policy = { ...nested('policy'), ...(changes.slowMs != null ? { slow_ms: changes.slowMs } : {}), ...(changes.timeoutMs != null ? { timeout_ms: changes.timeoutMs } : {}) };
    }
    if (changes.overridePubkeyHex !== undefined) metadata.override_pubkey_hex = changes.overridePubkeyHex;
    if (changes.signaturesRequired != null) metadata.features = { ...nested('features'), signatures_required: changes.signaturesRequired };
    const manifest = manifestFromMetadata(metadata);
    const span = await appendSpanInSession(tx, SEED_OWNER, {
      id: MANIFEST_ID, seq: current ? current.seq + 1 : 0, entityType: 'manifest', who: `user:${caller?.userId ?? ''}`, did: 'published',
      this: 'kernel manifest', name: 'manifest', visibility: 'public', status: 'active', metadata: metadata as never,
    }, ledger.signer);
    return { manifest: { ...manifest, seq: span.seq }, span };
  });
}
