/**
 * The column catalogue of `ledger.universal_registry`: one entry per column, in table order.
 *
 * This list is the single source for input validation, the canonical hash, SQL column lists and
 * `docs/columns.md`; a test checks that the migrated table has exactly these columns and types.
 */

export type ColumnType =
  | 'uuid'
  | 'text'
  | 'integer'
  | 'bigint'
  | 'boolean'
  | 'double precision'
  | 'timestamptz'
  | 'jsonb'
  | 'uuid[]'
  | 'text[]'
  | 'xid8';

export type ColumnGroup =
  | 'identity'
  | 'relationships'
  | 'access'
  | 'lifecycle'
  | 'code'
  | 'metrics'
  | 'proofs'
  | 'extension'
  | 'memory'
  | 'prompts'
  | 'apps'
  | 'scheduling'
  | 'position';

export interface Column {
  /** snake_case SQL name; the GraphQL field is its camelCase form. */
  readonly name: string;
  readonly type: ColumnType;
  readonly group: ColumnGroup;
  /**
   * `client`: may be given on append and is covered by `curr_hash`.
   * `proof`: the hash and signature themselves (given or computed, never hashed).
   * `ledger`: assigned by the database when the row is linked into its chain; never accepted as input.
   */
  readonly origin: 'client' | 'proof' | 'ledger';
  readonly meaning: string;
}

const c = (
  name: string,
  type: ColumnType,
  group: ColumnGroup,
  meaning: string,
  origin: Column['origin'] = 'client',
): Column => ({ name, type, group, origin, meaning });

export const COLUMNS: readonly Column[] = [
  c('id', 'uuid', 'identity', 'Identity of the thing the span describes; versions share it.'),
  c('seq', 'integer', 'identity', 'Version number of `id`, 0 for the first; each new version is the next integer.'),
  c('entity_type', 'text', 'identity', 'Kind of span: function, execution, memory, prompt_run, manifest, …'),
  c('who', 'text', 'identity', 'Actor that caused the span, e.g. `kernel:run_code` or `user:alice`.'),
  c('did', 'text', 'identity', 'Verb: defined, executed, scheduled, upserted, booted, …'),
  c('this', 'text', 'identity', 'Subject of the action, e.g. `memory.note` or a function name.'),
  c('at', 'timestamptz', 'identity', 'When it happened (millisecond precision, UTC). Defaults to the append time.'),

  c('parent_id', 'uuid', 'relationships', 'The span this one belongs to (an execution’s function, a patch’s target).'),
  c('related_to', 'uuid[]', 'relationships', 'Other spans this one refers to, in the order given.'),

  c('owner_id', 'text', 'access', 'User who owns the span; always the caller who appended it.'),
  c('tenant_id', 'text', 'access', 'Tenant the span belongs to; null for tenantless spans (their own chain).'),
  c('visibility', 'text', 'access', '`private` (owner only), `tenant` (the owner’s tenant) or `public` (everyone).'),

  c('status', 'text', 'lifecycle', 'Free lifecycle state: draft, active, scheduled, complete, error, slow, …'),
  c('is_deleted', 'boolean', 'lifecycle', 'True on a tombstone version: the id is deleted from the visible timeline.'),

  c('name', 'text', 'code', 'Human name of a function, kernel, policy, provider or app.'),
  c('description', 'text', 'code', 'Human description.'),
  c('code', 'text', 'code', 'Source code of a function or kernel (JavaScript).'),
  c('language', 'text', 'code', 'Language of `code`, e.g. javascript.'),
  c('runtime', 'text', 'code', 'Runtime the code expects, e.g. sandbox-v1.'),
  c('input', 'jsonb', 'code', 'Input of a run or request.'),
  c('output', 'jsonb', 'code', 'Output of a run.'),
  c('error', 'jsonb', 'code', 'Error of a failed run: `{ code, message }`.'),

  c('duration_ms', 'integer', 'metrics', 'How long the run took, in milliseconds.'),
  c('trace_id', 'text', 'metrics', 'Correlates the spans of one request or run.'),

  c('prev_hash', 'text', 'proofs', '`curr_hash` of the previous span in the same chain (null for the first).', 'ledger'),
  c('curr_hash', 'text', 'proofs', 'Lowercase hex BLAKE3-256 of the canonical form (docs/canonical-form.md).', 'proof'),
  c('signature', 'text', 'proofs', 'Hex Ed25519 signature over the 32 bytes of `curr_hash`.', 'proof'),
  c('public_key', 'text', 'proofs', 'Hex Ed25519 public key that made `signature`.'),
  c('sig_alg', 'text', 'proofs', 'Signature algorithm; `ed25519` when signed.'),
  c('sig_key_id', 'text', 'proofs', 'Name of the signing key, e.g. `deployment` or a device id.'),

  c('metadata', 'jsonb', 'extension', 'Anything else, as a JSON object.'),
  c('content', 'jsonb', 'extension', 'Body of the span: memory content, prompt block text, provider config.'),

  c('layer', 'text', 'memory', 'Memory layer: session, temporary, permanent, shared, local.'),
  c('memory_type', 'text', 'memory', 'Memory type: note, fact, profile, preference, relationship, plan, action, other.'),
  c('sensitivity', 'text', 'memory', 'public, internal, secret or pii; secret and pii content is encrypted.'),
  c('session_id', 'text', 'memory', 'Conversation or session the span belongs to.'),
  c('ttl_seconds', 'integer', 'memory', 'Time to live requested, in seconds.'),
  c('expires_at', 'timestamptz', 'memory', 'When the span stops being returned (memories, tokens).'),
  c('schema_id', 'text', 'memory', 'Id of the contract (JSON schema) the content follows.'),
  c('tags', 'text[]', 'memory', 'Free tags for filtering.'),
  c('enc_alg', 'text', 'memory', 'Encryption of `content` when encrypted, e.g. aes-256-gcm.'),
  c('enc_key_ref', 'text', 'memory', 'Reference to the data key that encrypted `content`.'),

  c('model', 'text', 'prompts', 'Model id, e.g. a Bedrock model id.'),
  c('provider', 'text', 'prompts', 'Provider of the model: bedrock, offline, …'),
  c('compiled_hash', 'text', 'prompts', 'BLAKE3 of a built system prompt.'),
  c('variant', 'text', 'prompts', 'Prompt variant, `family@version`.'),
  c('prompt_family', 'text', 'prompts', 'Prompt family a variant belongs to.'),
  c('priority', 'integer', 'prompts', 'Ordering weight, e.g. prompt block priority (doctrine 120 … task 70).'),
  c('confidence', 'double precision', 'prompts', 'Confidence reported for an answer, 0 to 1.'),
  c('input_tokens', 'integer', 'prompts', 'Tokens sent to the model.'),
  c('output_tokens', 'integer', 'prompts', 'Tokens received from the model.'),
  c('latency_ms', 'integer', 'prompts', 'Model latency, in milliseconds.'),
  c('ttft_ms', 'integer', 'prompts', 'Time to the first streamed token, in milliseconds.'),

  c('app_id', 'text', 'apps', 'App the span belongs to or was written through.'),
  c('device_id', 'text', 'apps', 'Device the span belongs to or was signed by.'),
  c('scopes', 'text[]', 'apps', 'Scopes granted or requested (span.write, memory.read, …).'),
  c('token_hash', 'text', 'apps', 'Keyed hash of an API token (never the token).'),

  c('scheduled_at', 'timestamptz', 'scheduling', 'When a request or function is due to run.'),
  c('started_at', 'timestamptz', 'scheduling', 'When a run started.'),
  c('finished_at', 'timestamptz', 'scheduling', 'When a run finished.'),
  c('attempt', 'integer', 'scheduling', 'Attempt number of a run or request.'),
  c('idempotency_key', 'text', 'scheduling', 'Key that makes a request or run happen once.'),

  c('chain_key', 'text', 'position', 'Chain the span is linked into: its tenant, or the empty string for tenantless spans.', 'ledger'),
  c('chain_seq', 'bigint', 'position', 'Position in its chain, 1, 2, 3, … without gaps.', 'ledger'),
  c('chain_hash', 'text', 'position', 'Hex SHA-256 of the previous `chain_hash` and this `curr_hash`: a chain head commits to all history.', 'ledger'),
  c('position', 'bigint', 'position', 'Ledger-wide insertion number.', 'ledger'),
  c('tx_id', 'xid8', 'position', 'Transaction that wrote the span; with `position` it orders the timeline.', 'ledger'),
  c('recorded_at', 'timestamptz', 'position', 'When the database stored the span.', 'ledger'),
];

/** Columns covered by `curr_hash`: everything a client may supply. */
export const HASHED_COLUMNS = COLUMNS.filter((col) => col.origin === 'client');

export const COLUMN_BY_NAME: ReadonlyMap<string, Column> = new Map(COLUMNS.map((col) => [col.name, col]));

export const camelCase = (snake: string): string => snake.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
