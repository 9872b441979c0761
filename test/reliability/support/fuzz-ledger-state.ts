import type { Database } from '../../../functions/commons/db/index.ts';

/*
 * What a refused request must leave as it was, read as the database owner (past RLS): the rows of
 * the registry and its side tables, and the head of every chain.
 */

export interface LedgerState {
  /** Rows per table. */
  readonly counts: Readonly<Record<string, number>>;
  /** chain key → `chainSeq:chainHash` of its last span. */
  readonly heads: Readonly<Record<string, string>>;
  /** The registry's highest position: rows above it are new. */
  readonly lastPosition: string;
}

export interface NewRow {
  readonly entityType: string;
  readonly status: string | null;
  readonly chainKey: string;
}

export async function ledgerState(db: Database): Promise<LedgerState> {
  return db.withOwner(async (tx) => {
    const [counts] = await tx.query<Record<string, number>>(
      `select (select count(*) from ledger.universal_registry)::int as universal_registry,
              (select count(*) from ledger.memory_index)::int as memory_index,
              (select count(*) from ledger.merkle_node)::int as merkle_node`,
    );
    const heads = await tx.query<{ chain_key: string; head: string }>(
      `select distinct on (chain_key) chain_key, chain_seq::text || ':' || chain_hash as head
         from ledger.universal_registry order by chain_key, chain_seq desc`,
    );
    const [last] = await tx.query<{ position: string }>('select coalesce(max(position), 0)::text as position from ledger.universal_registry');
    return {
      counts: { ...counts },
      heads: Object.fromEntries(heads.map((row) => [row.chain_key, row.head])),
      lastPosition: last?.position ?? '0',
    };
  });
}

/** Rows written after `state` was read. */
export async function rowsSince(db: Database, state: LedgerState): Promise<NewRow[]> {
  const rows = await db.withOwner((tx) =>
    tx.query<{ entity_type: string; status: string | null; chain_key: string }>(
      'select entity_type, status, chain_key from ledger.universal_registry where position > $1::bigint order by position',
      [state.lastPosition],
    ),
  );
  return rows.map((row) => ({ entityType: row.entity_type, status: row.status, chainKey: row.chain_key }));
}
