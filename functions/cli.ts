import { parseArgs } from 'node:util';
import { loadConfig } from './commons/config.ts';
import { listChains, openLedger, verifyChain, type ChainReport } from './ledger/index.ts';

const USAGE = `usage: loglineos <command> [options]

commands:
  migrate                 apply pending migrations to the configured database
  status                  migrate, then print each chain's length and head
  verify [--tenant T]     recompute every hash, signature and link; --tenant '' is the tenantless chain
                          (exit 1 when a chain fails)

environment: DATABASE_URL (unset: embedded PGlite in LOGLINEOS_DATA_DIR, default ./.data),
             LOGLINEOS_SIGNING_KEY (hex Ed25519 seed; unset: a key file in the data folder)`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tenant: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (!['migrate', 'status', 'verify'].includes(command)) {
    console.error(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig();
  const ledger = await openLedger(config);
  try {
    const where = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
    if (command === 'migrate') {
      console.log(ledger.migrated.length ? `applied ${ledger.migrated.join(', ')} to ${where}` : `${where} is up to date`);
      return 0;
    }
    const chains = values.tenant !== undefined ? [values.tenant] : await listChains(ledger);
    if (command === 'status') {
      console.log(`ledger: ${where}; ${chains.length} chain(s); deployment key ${ledger.signer?.publicKeyHex ?? 'off'}`);
      console.log('no API is served yet: this command only migrates and reports the ledger.');
    }
    let failed = 0;
    for (const chain of chains) {
      const report = await verifyChain(ledger, chain);
      if (!report.ok) failed += 1;
      console.log(describeReport(report));
    }
    return failed > 0 ? 1 : 0;
  } finally {
    await ledger.db.close();
  }
}

function describeReport(report: ChainReport): string {
  const name = report.chain === '' ? '(tenantless)' : report.chain;
  const head = report.head ? `head ${report.head.chainSeq} ${report.head.chainHash}` : 'empty';
  if (report.ok) return `ok    ${name}: ${report.checked} spans, ${head}`;
  const f = report.failure;
  return `FAIL  ${name}: ${report.checked} spans verified, then span ${f?.id}/${f?.seq} at chain position ${f?.chainSeq}: ${f?.code}: ${f?.reason}`;
}

process.exitCode = await main(process.argv.slice(2));
