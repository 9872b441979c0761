import type { Identity, Queryable } from '../commons/db/index.ts';
import { ValidationError } from '../commons/errors.ts';
import { appendSpan, blake3Hex, isUuid, type Ledger, type Span } from '../ledger/index.ts';
import { SPAN_COLUMNS_SQL, spanFromRow } from '../ledger/span.ts';
import { requireCaller, toPromptBlock } from './blocks.ts';
import { fillPlaceholders } from './placeholders.ts';
import type { PromptBlock, PromptVariant } from './types.ts';
import { resolveVariant } from './variants.ts';

export interface CompiledPrompt {
  readonly system: string;
  /** BLAKE3 (hex) of the UTF-8 system prompt. */
  readonly hash: string;
  /** The block versions used, in prompt order. */
  readonly blocks: readonly { readonly id: string; readonly seq: number }[];
  /** Blocks of the variant left out: deleted, expired, or no longer readable. */
  readonly skipped: readonly string[];
  readonly variables: Readonly<Record<string, string>>;
}

export interface PromptBuild {
  readonly id: string;
  readonly variant: PromptVariant;
  readonly compiled: CompiledPrompt;
}

const encoder = new TextEncoder();
/** Bounds a run's request to the model and its job (an asynchronous Lambda payload is at most 256 KB). */
const MAX_SYSTEM_CHARS = 100_000;

/** Orders blocks for the system prompt: higher priority first, then the newer block first. */
export function orderBlocks(blocks: readonly PromptBlock[]): PromptBlock[] {
  return [...blocks].sort((a, b) => b.priority - a.priority || Date.parse(b.at) - Date.parse(a.at) || a.id.localeCompare(b.id));
}

/**
 * The system prompt of a variant: its blocks (latest versions the caller can read, unexpired) by
 * priority, placeholders filled from the variables over the variant's defaults, joined by blank lines.
 */
export async function compilePrompt(tx: Queryable, variant: PromptVariant, given: Readonly<Record<string, string>>): Promise<CompiledPrompt> {
  return compileFromBlocks(variant, await latestVersions(tx, variant.blockIds), given);
}

/** compilePrompt over block versions already read (`latest` maps each block id to its latest version). */
export function compileFromBlocks(variant: PromptVariant, latest: ReadonlyMap<string, Span>, given: Readonly<Record<string, string>>): CompiledPrompt {
  const found: PromptBlock[] = [];
  const skipped: string[] = [];
  const now = Date.now();
  for (const id of variant.blockIds) {
    const span = latest.get(id);
    if (!span || span.entityType !== 'prompt_block' || span.isDeleted || (span.expiresAt && Date.parse(span.expiresAt) <= now)) skipped.push(id);
    else found.push(toPromptBlock(span));
  }
  if (found.length === 0) {
    throw new ValidationError('variantId', variant.id, `${variant.name} has no usable block (all deleted, expired or unreadable)`, 'Give the variant a new version with live blocks.');
  }
  const variables = { ...variant.defaults, ...given };
  const ordered = orderBlocks(found);
  const system = ordered.map((block) => fillPlaceholders(block.text, variables, `block "${block.name}" (${block.id})`).trim()).join('\n\n');
  if (system.length > MAX_SYSTEM_CHARS) {
    throw new ValidationError('variables', given, `make ${variant.name}'s system prompt ${system.length} characters long, over ${MAX_SYSTEM_CHARS}`, 'Send shorter variables, or use fewer or shorter blocks.');
  }
  return { system, hash: blake3Hex(encoder.encode(system)), blocks: ordered.map((block) => ({ id: block.id, seq: block.seq })), skipped, variables };
}

/** The latest version of each id the caller can read, in one query. */
export async function latestVersions(tx: Queryable, ids: readonly string[]): Promise<Map<string, Span>> {
  const valid = ids.filter(isUuid).map((id) => id.toLowerCase());
  if (valid.length === 0) return new Map();
  const rows = await tx.query(`select distinct on (r.id) ${SPAN_COLUMNS_SQL} from ledger.universal_registry r where r.id = any($1::uuid[]) order by r.id, r.seq desc`, [valid]);
  return new Map(rows.map((row) => {
    const span = spanFromRow(row);
    return [span.id, span];
  }));
}

/** Builds a variant's system prompt and records it as a `prompt_build` span. Same inputs → same hash. */
export async function buildPrompt(ledger: Ledger, caller: Identity | null, variantId: string, variables: Readonly<Record<string, string>>): Promise<PromptBuild> {
  const identity = requireCaller(caller);
  const { variant, compiled } = await ledger.db.withSession(identity, async (tx) => {
    const variant = await resolveVariant(tx, { variantId });
    return { variant, compiled: await compilePrompt(tx, variant, variables) };
  });
  const span = await appendSpan(ledger, identity, buildSpanInput(identity, variant, compiled, { input: { variables: compiled.variables } }));
  return { id: span.id, variant, compiled };
}

export function buildSpanInput(identity: Identity, variant: { id: string; seq: number; name: string; family: string }, compiled: Pick<CompiledPrompt, 'system' | 'hash' | 'blocks'> & { skipped?: readonly string[] }, extra: Record<string, unknown> = {}) {
  return {
    entityType: 'prompt_build',
    who: `user:${identity.userId}`,
    did: 'built',
    this: variant.name,
    parentId: variant.id,
    relatedTo: compiled.blocks.map((block) => block.id),
    variant: variant.name,
    promptFamily: variant.family,
    compiledHash: compiled.hash,
    content: { system: compiled.system },
    output: { variantSeq: variant.seq, blocks: compiled.blocks.map((block) => ({ id: block.id, seq: block.seq })), skipped: compiled.skipped ?? [] },
    visibility: 'private',
    status: 'complete',
    ...extra,
  };
}
