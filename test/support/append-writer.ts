/**
 * A separate writer process for the group-commit tests: opens the given database, appends spans to
 * one tenant chain with several concurrent writers, and prints one `ack <id> <chainSeq>` line per
 * acknowledged span. Run with `node --import tsx test/support/append-writer.ts '<json options>'`.
 */
import { openPglite, openPostgres } from '../../functions/commons/db/index.ts';
import { appendSpan, type Ledger } from '../../functions/ledger/index.ts';
import { testSigner } from './signer.ts';

interface WriterOptions {
  readonly postgresUrl?: string;
  readonly pgliteDir?: string;
  readonly tenant: string;
  readonly writers: number;
  /** Spans per writer; the process then exits (or is killed before). */
  readonly perWriter: number;
  readonly label: string;
}

const options = JSON.parse(process.argv[2] ?? '{}') as WriterOptions;
const db = options.postgresUrl ? openPostgres({ connectionString: options.postgresUrl, max: 4 }) : await openPglite({ dataDir: options.pgliteDir! });
const ledger: Ledger = { db, signer: testSigner };
process.stdout.write('ready\n');

await Promise.all(
  Array.from({ length: options.writers }, async (_, writer) => {
    const identity = { userId: `${options.label}-w${writer}`, tenantId: options.tenant };
    for (let i = 0; i < options.perWriter; i += 1) {
      const span = await appendSpan(ledger, identity, { entityType: 'note', who: `writer:${options.label}`, did: 'wrote', this: `${options.label} ${writer}.${i}` });
      // One write per line, so a kill never leaves half an acknowledgement that parses.
      process.stdout.write(`ack ${span.id} ${span.chainSeq}\n`);
    }
  }),
);
await db.close();
process.stdout.write('done\n');
