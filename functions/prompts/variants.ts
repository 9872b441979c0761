import type { Identity, Queryable } from '../commons/db/index.ts';
import { NotFoundError, ValidationError } from '../commons/errors.ts';
import { appendSpan, isUuid, latestVersion, type Ledger, type Span } from '../ledger/index.ts';
import { SEED_OWNER } from '../ledger/seeds.ts';
import { SPAN_COLUMNS_SQL, spanFromRow } from '../ledger/span.ts';
import { requireCaller } from './blocks.ts';
import { parseVariables } from './placeholders.ts';
import type { PromptVariant } from './types.ts';

export interface PromptVariantInput {
  /** A new version (seq) of this variant when given. */
  readonly id?: string | null;
  readonly family?: string | null;
  readonly version?: string | null;
  readonly blockIds?: readonly string[] | null;
  readonly defaults?: unknown;
  readonly visibility?: string | null;
}

const FAMILY = /^[a-z][a-z0-9_.-]{0,63}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

export function toPromptVariant(span: Span): PromptVariant {
  const content = (span.content ?? {}) as { blockIds?: unknown; defaults?: unknown };
  const name = span.variant ?? span.this;
  const at = name.lastIndexOf('@');
  return {
    id: span.id,
    seq: span.seq,
    name,
    family: span.promptFamily ?? name.slice(0, at),
    version: name.slice(at + 1),
    blockIds: Array.isArray(content.blockIds) ? (content.blockIds as string[]) : [],
    defaults: content.defaults && typeof content.defaults === 'object' ? (content.defaults as Record<string, string>) : {},
    at: span.at,
    span,
  };
}

export async function createPromptVariant(ledger: Ledger, caller: Identity | null, input: PromptVariantInput): Promise<PromptVariant> {
  const identity = requireCaller(caller);
  if (input.id !== undefined && input.id !== null && !isUuid(input.id)) {
    throw new ValidationError('input.id', input.id, 'must be the UUID of the variant to version', 'Leave id out to create a new variant.');
  }
  const family = input.family ?? '';
  if (!FAMILY.test(family)) throw new ValidationError('input.family', input.family, 'must be 1 to 64 lowercase letters, digits or _.-, starting with a letter', 'Name the family, e.g. "support.answer".');
  const version = input.version ?? '';
  if (!VERSION.test(version)) throw new ValidationError('input.version', input.version, 'must be 1 to 32 letters, digits or _.-', 'Give the version, e.g. "v2"; the variant is then family@v2.');
  const blockIds = input.blockIds ?? [];
  if (blockIds.length === 0 || blockIds.length > 50 || blockIds.some((id) => !isUuid(id))) {
    throw new ValidationError('input.blockIds', input.blockIds, 'must be 1 to 50 prompt block ids (UUIDs)', 'List the blocks the variant uses; create them with createPromptBlock.');
  }
  const defaults = parseVariables('input.defaults', input.defaults);
  const ids = blockIds.map((id) => id.toLowerCase());
  const name = `${family}@${version}`;
  await ledger.db.withSession(identity, async (tx) => {
    for (const [index, id] of ids.entries()) {
      const block = await latestVersion(tx, id);
      if (!block || block.entityType !== 'prompt_block') {
        throw new ValidationError(`input.blockIds[${index}]`, id, 'is not a prompt block you can read', 'List blocks from promptBlocks, or create the block first.');
      }
    }
    if (!input.id) {
      const [taken] = await tx.query(`select 1 from ledger.universal_registry r where r.entity_type = 'prompt_variant' and r.variant = $1 limit 1`, [name]);
      if (taken) throw new ValidationError('input.version', version, `is taken: ${name} exists`, 'Pick a new version, or pass the variant id to add a new seq of it.');
    }
  });
  const stored = await appendSpan(ledger, identity, {
    ...(input.id ? { id: input.id.toLowerCase() } : {}),
    entityType: 'prompt_variant',
    who: `user:${identity.userId}`,
    did: 'defined',
    this: name,
    name,
    variant: name,
    promptFamily: family,
    relatedTo: ids,
    content: { blockIds: ids, defaults },
    visibility: input.visibility ?? 'tenant',
    status: 'active',
  });
  return toPromptVariant(stored);
}

/**
 * Whose prompt spans may decide what a caller's runs use: their own, their tenant's, and the seeded
 * system prompt. Anyone can publish a public variant or selection in any family; reading it is fine
 * (promptVariants lists it), letting it choose what other tenants run is not.
 */
const TRUSTED = (alias: string) =>
  `(${alias}.owner_id = ledger.current_user_id() or (${alias}.tenant_id is not null and ${alias}.tenant_id = ledger.current_tenant_id()) or ${alias}.owner_id = $2)`;

const LATEST_VARIANTS = (trusted: boolean) => `select * from (
    select distinct on (r.id) ${SPAN_COLUMNS_SQL} from ledger.universal_registry r
    where r.entity_type = 'prompt_variant' and r.prompt_family = $1${trusted ? ` and ${TRUSTED('r')}` : ''} order by r.id, r.seq desc
  ) latest where not latest.is_deleted order by latest.at desc, latest.id`;

/** The latest version of each variant of the family that the caller can read, newest first. */
export async function listPromptVariants(ledger: Ledger, caller: Identity | null, family: string): Promise<PromptVariant[]> {
  if (!FAMILY.test(family)) throw new ValidationError('family', family, 'is not a prompt family name', 'Send e.g. "support.answer".');
  const rows = await ledger.db.withSession(caller, (tx) => tx.query(LATEST_VARIANTS(false), [family]));
  return rows.map((row) => toPromptVariant(spanFromRow(row)));
}

/** The family's variants that may decide the caller's runs (own, own tenant's, the system's), newest first. */
export async function variantsInSession(tx: Queryable, family: string): Promise<PromptVariant[]> {
  return (await tx.query(LATEST_VARIANTS(true), [family, SEED_OWNER.userId])).map((row) => toPromptVariant(spanFromRow(row)));
}

/**
 * A variant by id (latest version), or the family's current winner (SPEC §6: selectVariant), else its
 * newest variant. By family, only the caller's own, their tenant's and the system's variants and
 * selections count (TRUSTED), and the latest selection is the last committed one (ledger position,
 * not its self-declared `at`).
 */
export async function resolveVariant(tx: Queryable, ref: { variantId?: string | null; family?: string | null }): Promise<PromptVariant> {
  if (ref.variantId) {
    const span = isUuid(ref.variantId) ? await latestVersion(tx, ref.variantId) : null;
    if (!span || span.entityType !== 'prompt_variant') {
      throw new NotFoundError(`no prompt variant ${JSON.stringify(ref.variantId)} you can read; list them with promptVariants(family)`, { variantId: ref.variantId });
    }
    return toPromptVariant(span);
  }
  const family = ref.family ?? '';
  if (!FAMILY.test(family)) throw new ValidationError('family', ref.family, 'names no prompt family', 'Send variantId or a family such as "support.answer".');
  // One round trip: the family's latest trusted variants, the current winner first, else the newest.
  const [row] = await tx.query(
    `select * from (
       select distinct on (r.id) ${SPAN_COLUMNS_SQL} from ledger.universal_registry r
       where r.entity_type = 'prompt_variant' and r.prompt_family = $1 and ${TRUSTED('r')} order by r.id, r.seq desc
     ) latest
     where not latest.is_deleted
     order by latest.id = (
       select s.parent_id from ledger.universal_registry s
       where s.entity_type = 'prompt_variant_selection' and s.prompt_family = $1 and s.parent_id is not null and ${TRUSTED('s')}
       order by s.position desc limit 1
     ) desc nulls last, latest.at desc, latest.id
     limit 1`,
    [family, SEED_OWNER.userId],
  );
  if (!row) throw new NotFoundError(`prompt family ${JSON.stringify(family)} has no variant you can read; create one with createPromptVariant`, { family });
  return toPromptVariant(spanFromRow(row));
}
