import type { Identity } from '../commons/db/index.ts';
import { ValidationError } from '../commons/errors.ts';
import { appendSpan, isUuid, type Ledger, type Span } from '../ledger/index.ts';
import { SPAN_COLUMNS_SQL, spanFromRow } from '../ledger/span.ts';
import { placeholdersOf } from './placeholders.ts';
import type { PromptBlock } from './types.ts';
import { requireSignedIn } from '../commons/identity.ts';

export interface PromptBlockInput {
  /** A new version of this block when given; a new block otherwise. */
  readonly id?: string | null;
  readonly name?: string | null;
  readonly text?: string | null;
  readonly priority?: number | null;
  readonly tags?: readonly string[] | null;
  readonly ttlSeconds?: number | null;
  readonly visibility?: string | null;
}

const MAX_BLOCK_CHARS = 20_000;

export const requireCaller = (identity: Identity | null): Identity => requireSignedIn(identity, 'working with prompts');

export function toPromptBlock(span: Span): PromptBlock {
  const content = (span.content ?? {}) as { text?: unknown };
  return {
    id: span.id,
    seq: span.seq,
    name: span.name ?? span.this,
    text: typeof content.text === 'string' ? content.text : '',
    priority: span.priority ?? 0,
    tags: span.tags ?? [],
    expiresAt: span.expiresAt,
    at: span.at,
    span,
  };
}

export async function createPromptBlock(ledger: Ledger, caller: Identity | null, input: PromptBlockInput): Promise<PromptBlock> {
  const identity = requireCaller(caller);
  if (input.id !== undefined && input.id !== null && !isUuid(input.id)) {
    throw new ValidationError('input.id', input.id, 'must be the UUID of the block to version', 'Leave id out to create a new block.');
  }
  const name = input.name?.trim() ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,119}$/.test(name)) {
    throw new ValidationError('input.name', input.name, 'must be 1 to 120 letters, digits, spaces or _.:/-', 'Name the block, e.g. "doctrine" or "support.task".');
  }
  const text = input.text ?? '';
  if (text.trim() === '' || text.length > MAX_BLOCK_CHARS) {
    throw new ValidationError('input.text', input.text, `must be 1 to ${MAX_BLOCK_CHARS} characters`, 'Send the block text, with {{name}} placeholders for variables.');
  }
  const priority = input.priority ?? 70;
  if (!Number.isInteger(priority) || priority < 0 || priority > 1000) {
    throw new ValidationError('input.priority', input.priority, 'must be a whole number from 0 to 1000', 'Use doctrine 120, product 100, app 90, task 70.');
  }
  const tags = input.tags ?? [];
  if (tags.length > 20 || tags.some((tag) => typeof tag !== 'string' || tag === '' || tag.length > 64)) {
    throw new ValidationError('input.tags', input.tags, 'must be at most 20 tags of 1 to 64 characters', 'Send e.g. ["support", "en"].');
  }
  const ttl = input.ttlSeconds ?? null;
  const now = Date.now();
  const span = await appendSpan(ledger, identity, {
    ...(input.id ? { id: input.id.toLowerCase() } : {}),
    entityType: 'prompt_block',
    who: `user:${identity.userId}`,
    did: 'defined',
    this: name,
    name,
    content: { text, variables: placeholdersOf(text) },
    priority,
    tags: [...tags],
    ttlSeconds: ttl,
    expiresAt: ttl ? new Date(now + ttl * 1000).toISOString() : null,
    visibility: input.visibility ?? 'tenant',
    status: 'active',
    at: new Date(now).toISOString(),
  });
  return toPromptBlock(span);
}

/** The latest version of every block the caller can read (deleted and expired ones left out). */
export async function listPromptBlocks(ledger: Ledger, caller: Identity | null, filter: { tags?: readonly string[] | null } = {}): Promise<PromptBlock[]> {
  const rows = await ledger.db.withSession(caller, (tx) =>
    tx.query(
      `select * from (
         select distinct on (r.id) ${SPAN_COLUMNS_SQL} from ledger.universal_registry r
         where r.entity_type = 'prompt_block' order by r.id, r.seq desc
       ) latest
       where not latest.is_deleted and (latest.expires_at is null or latest.expires_at > now())
         and ($1::text[] is null or latest.tags && $1)
       order by latest.priority desc nulls last, latest.at desc`,
      [filter.tags && filter.tags.length > 0 ? [...filter.tags] : null],
    ),
  );
  return rows.map((row) => toPromptBlock(spanFromRow(row)));
}
