import { StatementFailed, asDatabaseFailure, type Database, type Identity, type Row, type Statement } from '../commons/db/database.ts';
import { COLUMNS } from './columns.ts';

/*
 * Group commit. Appends that arrive while their chain has a transaction in flight (or within the same
 * turn of the event loop) are gathered and written together: one transaction, one statement, one
 * commit and one wait for the disk for the whole group, and each chain's lock taken once. Groups take
 * the waiting spans of idle chains, ordered by chain key, so any two groups (in this process or
 * another) lock chains in the same order and never deadlock each other.
 *
 * Correctness does not rest on this file: the database links every row under the chain's lock
 * (ledger.link_span), so writers in other processes or Lambda containers can never fork a chain.
 * What this file adds is throughput and per-caller outcomes: a span the database refuses fails alone,
 * and its neighbours are written again without it.
 */

const INSERT_COLUMNS = COLUMNS.filter((col) => col.origin !== 'ledger');
const LEDGER_COLUMNS = COLUMNS.filter((col) => col.origin === 'ledger');
const quoted = (name: string) => (name === 'this' ? '"this"' : name);

const insertRowsSql = (asWriters: boolean) => `insert into ledger.universal_registry as r (${INSERT_COLUMNS.map((col) => quoted(col.name)).join(', ')})
select ${INSERT_COLUMNS.map((col) => `s.${quoted(col.name)}`).join(', ')}
  from jsonb_array_elements($1::jsonb) with ordinality as e(doc, n)
 cross join lateral jsonb_populate_record(null::ledger.universal_registry, e.doc) as s${
   asWriters
     ? `
 where set_config('app.user_id', $2::jsonb -> (e.n::int - 1) ->> 0, true) is not null
   and set_config('app.tenant_id', coalesce($2::jsonb -> (e.n::int - 1) ->> 1, ''), true) is not null`
     : ''
 }
on conflict (id, seq) do nothing
returning r.id, r.seq, ${LEDGER_COLUMNS.map((col) => `r.${col.name}`).join(', ')}`;

/**
 * One statement for any number of rows: they travel as one JSON array and become registry rows in
 * array order (so a chain's spans are linked in arrival order). PostgreSQL spends ~0.4 ms of CPU on
 * a statement before its first row (parse, rewrite with RLS, plan, executor start; measured in
 * docs/performance.md), so a group is one statement, not one per span, and one text for every group
 * size.
 */
const INSERT_ROWS_SQL = insertRowsSql(false);
/**
 * The group form: before each row is inserted, the session's caller becomes that row's writer, so
 * the insert policy checks every span against its own writer, as if each had its own transaction.
 * The executor pulls one row from the scan (running the where clause) and inserts it (running the
 * policy and ledger.link_span) before it pulls the next; test/ledger/group-commit.test.ts holds
 * groups of several writers to that.
 */
const INSERT_ROWS_AS_WRITERS_SQL = insertRowsSql(true);

/**
 * Inserts rows (snake_case insert columns; a missing key is null) as the transaction's caller, in
 * order. Returns what the database assigned to each inserted row, with its id and seq; a row whose
 * `(id, seq)` exists already returns nothing.
 */
export function insertRowsStatement(rows: readonly Readonly<Record<string, unknown>>[]): Statement {
  return { text: INSERT_ROWS_SQL, params: [JSON.stringify(rows)] };
}

/** The rows, and beside them each row's writer as `[userId, tenantId]`. */
function insertAsWritersStatement(waiters: readonly Waiter[]): Statement {
  return {
    text: INSERT_ROWS_AS_WRITERS_SQL,
    params: [JSON.stringify(waiters.map((waiter) => waiter.row)), JSON.stringify(waiters.map((waiter) => [waiter.identity.userId, waiter.identity.tenantId ?? null]))],
  };
}

/** SQLSTATEs after which the same group may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']); // deadlock with a foreign transaction, serialization failure
const MAX_ATTEMPTS = 5;
/** Spans ready to go that justify a second group beside one in flight. */
const PARALLEL_BACKLOG = 32;

export interface PendingAppend {
  /** The chain the span joins: its tenant, or '' for tenantless spans. */
  readonly chainKey: string;
  /** Whose span it is: row-level security checks it as this caller's insert. */
  readonly identity: Identity;
  /** The insert columns, snake_case, jsonb values as JSON values. */
  readonly row: Readonly<Record<string, unknown>>;
}

export interface GroupCommitOptions {
  /** Group transactions in flight at once (each holds a pooled connection). */
  readonly maxGroups?: number;
  /** Spans in one group. */
  readonly maxSpans?: number;
}

interface Waiter extends PendingAppend {
  readonly key: string;
  /** Set once a statement of several rows that held it failed: it then goes in a statement of its own. */
  solo: boolean;
  attempts: number;
  resolve(row: Row | null): void;
  reject(error: unknown): void;
}

export class GroupCommitter {
  /** Waiting spans per chain, chains in the order they started waiting. */
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private scheduled = false;
  private readonly maxGroups: number;
  private readonly maxSpans: number;

  constructor(
    private readonly db: Database,
    options: GroupCommitOptions = {},
  ) {
    // PGlite is one session: a second transaction would only queue behind the first.
    this.maxGroups = options.maxGroups ?? (db.backend === 'pglite' ? 1 : 2);
    this.maxSpans = options.maxSpans ?? 256;
  }

  /**
   * Writes one sealed span with the next group of its chain. Resolves with what the database assigned
   * (chain position, links, cursor), or null when `(id, seq)` already existed; rejects with the
   * database's own error when it refused this span.
   */
  submit(append: PendingAppend): Promise<Row | null> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { ...append, key: rowKey(append.row.id, append.row.seq), solo: false, attempts: 0, resolve, reject };
      const queue = this.waiting.get(append.chainKey);
      if (queue) queue.push(waiter);
      else this.waiting.set(append.chainKey, [waiter]);
      this.schedule();
    });
  }

  // The first span of an idle chain waits one turn of the event loop, so that spans submitted in the
  // same turn (concurrent requests read from their sockets together) share its group.
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxGroups) {
      // While a commit is in flight, a few waiting spans wait for it and then go together: a second
      // small group would pay a second WAL flush for little. A backlog goes in parallel at once.
      if (this.inFlight > 0 && this.readySpans() < PARALLEL_BACKLOG) return;
      const group = this.takeGroup();
      if (group.length === 0) return;
      // A chain is in at most one group at a time: its next spans wait for this one's commit.
      const chains = new Set(group.map((waiter) => waiter.chainKey));
      for (const chain of chains) this.busy.add(chain);
      this.inFlight += 1;
      void this.commit(group).finally(() => {
        this.inFlight -= 1;
        for (const chain of chains) this.busy.delete(chain);
        this.flush();
      });
    }
  }

  private readySpans(): number {
    let count = 0;
    for (const [chain, queue] of this.waiting) if (!this.busy.has(chain)) count += queue.length;
    return count;
  }

  /**
   * The next group: the waiting spans of every idle chain, up to the group's size. Every commit pays
   * for one flush of the write-ahead log (~0.5 ms of the database's CPU here, docs/performance.md),
   * so one large group beats several small ones; a second group forms only from chains that became
   * ready while the first is in flight, so one slow chain (waiting on a lock another process holds)
   * does not hold the others back.
   */
  private takeGroup(): Waiter[] {
    const group: Waiter[] = [];
    for (const [chain, queue] of this.waiting) {
      if (this.busy.has(chain)) continue;
      const room = this.maxSpans - group.length;
      if (room <= 0) break;
      group.push(...queue.splice(0, room));
      if (queue.length === 0) this.waiting.delete(chain);
    }
    // Sorting by chain (stable, so arrival order holds within a chain) fixes the lock order.
    return group.sort((a, b) => (a.chainKey < b.chainKey ? -1 : a.chainKey > b.chainKey ? 1 : 0));
  }

  private async commit(group: Waiter[]): Promise<void> {
    const { statements, owners } = groupStatements(group);
    let results: Row[][];
    try {
      results = await this.db.runStatements(group[0]!.identity, statements);
    } catch (error) {
      this.recover(group, owners, error);
      return;
    }
    for (const [index, rows] of results.entries()) {
      const assigned = new Map(rows.map((row) => [rowKey(row.id, row.seq), row]));
      for (const waiter of owners[index]!) {
        const row = assigned.get(waiter.key);
        // A second span with the same (id, seq) in one group finds it taken, as a retry would.
        assigned.delete(waiter.key);
        waiter.resolve(row ?? null);
      }
    }
  }

  /** A failed group: the span at fault fails alone, the others wait for the next group, in order. */
  private recover(group: Waiter[], owners: readonly Waiter[][], error: unknown): void {
    const failure = asDatabaseFailure(error);
    const cause = error instanceof StatementFailed ? error.cause : error;
    let survivors = group;
    if (failure?.code !== undefined && RETRYABLE.has(failure.code)) {
      survivors = group.filter((waiter) => {
        waiter.attempts += 1;
        if (waiter.attempts < MAX_ATTEMPTS) return true;
        waiter.reject(cause);
        return false;
      });
    } else if (error instanceof StatementFailed && owners[error.index]) {
      const culprits = owners[error.index]!;
      if (culprits.length === 1) {
        culprits[0]!.reject(cause);
        survivors = group.filter((waiter) => waiter !== culprits[0]);
      } else {
        // Which row of the statement failed is not known: each goes alone next time, and the next
        // failure names exactly one span.
        for (const waiter of culprits) waiter.solo = true;
      }
    } else {
      // Not any one span's fault (a lost connection, the database shutting down): every caller hears it.
      for (const waiter of group) waiter.reject(cause);
      return;
    }
    // Back to the front of their chains' queues, ahead of anything that arrived meanwhile.
    for (let i = survivors.length - 1; i >= 0; i -= 1) {
      const waiter = survivors[i]!;
      const queue = this.waiting.get(waiter.chainKey);
      if (queue) queue.unshift(waiter);
      else this.waiting.set(waiter.chainKey, [waiter]);
    }
  }
}

/** Consecutive spans share a statement; a span that must go alone gets one of its own. */
function groupStatements(group: readonly Waiter[]): { statements: Statement[]; owners: Waiter[][] } {
  const owners: Waiter[][] = [];
  let run: Waiter[] = [];
  for (const waiter of group) {
    if (waiter.solo) {
      if (run.length > 0) owners.push(run);
      owners.push([waiter]);
      run = [];
    } else {
      run.push(waiter);
    }
  }
  if (run.length > 0) owners.push(run);
  return { statements: owners.map(insertAsWritersStatement), owners };
}

function rowKey(id: unknown, seq: unknown): string {
  return `${String(id)}/${String(seq)}`;
}

const committers = new WeakMap<Database, GroupCommitter>();

/** The committer of a database: one per open database, so every ledger on it shares its groups. */
export function committerFor(db: Database, options: GroupCommitOptions = {}): GroupCommitter {
  let committer = committers.get(db);
  if (!committer) committers.set(db, (committer = new GroupCommitter(db, options)));
  return committer;
}
