import type { Queryable } from '../commons/db/index.ts';
import { ValidationError } from '../commons/errors.ts';
import { latestVersion, type JsonValue, type Span } from '../ledger/index.ts';
import { CORE_KERNELS } from './ids.ts';
import { MANIFEST_ID } from './ids.ts';

/** The manifest's settings (its span's `metadata`, SPEC §4) with defaults filled in. */
export interface Manifest {
  readonly id: string;
  readonly seq: number;
  readonly kernels: Readonly<Record<string, string>>;
  readonly allowedBootIds: readonly string[];
  readonly perTenantDailyExecLimit: number;
  readonly slowMs: number;
  readonly timeoutMs: number;
  readonly overridePubkeyHex: string | null;
  readonly signaturesRequired: boolean;
}

export const DEFAULT_MANIFEST_METADATA = {
  kernels: { ...CORE_KERNELS },
  allowed_boot_ids: Object.values(CORE_KERNELS),
  throttle: { per_tenant_daily_exec_limit: 100 },
  policy: { slow_ms: 5000, timeout_ms: 10_000 },
  override_pubkey_hex: null,
  features: { signatures_required: true },
} as const;

type Metadata = { readonly [key: string]: JsonValue };

const isObject = (value: unknown): value is Metadata => typeof value === 'object' && value !== null && !Array.isArray(value);

function positiveInt(value: unknown, fallback: number, field: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ValidationError(`metadata.${field}`, value, 'must be a whole number of 0 or more', `Send ${field} as an integer, e.g. ${fallback}.`);
  }
  return value;
}

/** Reads and checks a manifest's metadata; `publishManifest` refuses what this refuses. */
export function manifestFromMetadata(raw: unknown, id = MANIFEST_ID, seq = 0): Manifest {
  if (!isObject(raw)) throw new ValidationError('metadata', raw, 'must be an object of manifest settings', 'Send { allowed_boot_ids, kernels, throttle, policy, features }.');
  const kernels = isObject(raw.kernels) ? raw.kernels : {};
  for (const [name, value] of Object.entries(kernels)) {
    if (typeof value !== 'string') throw new ValidationError(`metadata.kernels.${name}`, value, 'must be a kernel id', 'Map each kernel name to its function span id.');
  }
  const allowed = raw.allowed_boot_ids ?? [];
  if (!Array.isArray(allowed) || allowed.some((id) => typeof id !== 'string')) {
    throw new ValidationError('metadata.allowed_boot_ids', allowed, 'must be a list of function span ids', 'Send the ids of the kernels stage-0 may boot.');
  }
  const throttle = isObject(raw.throttle) ? raw.throttle : {};
  const policy = isObject(raw.policy) ? raw.policy : {};
  const features = isObject(raw.features) ? raw.features : {};
  const override = raw.override_pubkey_hex ?? null;
  if (override !== null && (typeof override !== 'string' || !/^[0-9a-f]{64}$/.test(override))) {
    throw new ValidationError('metadata.override_pubkey_hex', override, 'must be a hex Ed25519 public key (64 lowercase hex digits) or null', 'Send the key whose signed requests may pass the quota.');
  }
  const timeoutMs = positiveInt(policy.timeout_ms, DEFAULT_MANIFEST_METADATA.policy.timeout_ms, 'policy.timeout_ms');
  if (timeoutMs < 1 || timeoutMs > 25_000) {
    throw new ValidationError('metadata.policy.timeout_ms', timeoutMs, 'must be from 1 to 25000', 'A run must end inside the 30 s AppSync gives a resolver; schedule longer work.');
  }
  return {
    id,
    seq,
    kernels: kernels as Record<string, string>,
    allowedBootIds: (allowed as string[]).map((value) => value.toLowerCase()),
    perTenantDailyExecLimit: positiveInt(throttle.per_tenant_daily_exec_limit, DEFAULT_MANIFEST_METADATA.throttle.per_tenant_daily_exec_limit, 'throttle.per_tenant_daily_exec_limit'),
    slowMs: positiveInt(policy.slow_ms, DEFAULT_MANIFEST_METADATA.policy.slow_ms, 'policy.slow_ms'),
    timeoutMs,
    overridePubkeyHex: override as string | null,
    signaturesRequired: features.signatures_required !== false,
  };
}

/** The latest manifest the session can read (it is public), or null when none was ever seeded. */
export async function readManifest(tx: Queryable): Promise<{ manifest: Manifest; span: Span } | null> {
  const span = await latestVersion(tx, MANIFEST_ID);
  if (!span || span.entityType !== 'manifest' || span.isDeleted) return null;
  return { manifest: manifestFromMetadata(span.metadata, span.id, span.seq), span };
}
