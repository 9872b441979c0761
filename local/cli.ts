import { SEEDS } from '../functions/deploy/seeds.ts';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { keyFilePath, loadConfig } from '../functions/commons/config.ts';
import type { ProofCommandOptions } from './proof-commands.ts';
import { listChains, openLedger, verifyChain, type ChainReport } from '../functions/ledger/index.ts';
import { apiKeyFile, issuerKeyFile, loadOrCreateApiKey } from './credentials.ts';
import { openIssuer } from './issuer.ts';
import { startProgress } from '../functions/commons/observability-progress.ts';
import { createMetricSpanRecorder, formatHealthStats, metricSpanIntervalMs, readHealthStats } from '../functions/commons/observability-spans.ts';
import { errorTypeOf, logger } from '../functions/commons/observability.ts';
import type { Ledger } from '../functions/ledger/index.ts';

const USAGE = `usage: loglineos <command> [options]

commands:
  serve [--port N] [--dev]  migrate, then serve the GraphQL API at http://127.0.0.1:4000/graphql
                          (PORT or --port; --dev reloads schema and resolvers when they change)
  token --user U [--tenant T] [--group G]…  print a user token for the Authorization header
  migrate                 apply pending migrations to the configured database
  status                  migrate, then print each chain's length and head
  verify [--tenant T]     recompute every hash, signature and link; --tenant '' is the tenantless chain
                          (exit 1 when a chain fails)
  stats [--window 1h]     the ledger's health from its metric spans: appends/s, verification failures,
                          kernel runs and refusals, prompt latency and tokens, memory cache hit rate
                          (window: 30s, 15m, 1h, 2d; serve writes them every LOGLINEOS_METRICS_INTERVAL_MS)
  witness [--tenant T]    fetch a log's signed checkpoint from the API, check it extends the one kept
                          before (consistency proof), keep it (exit 1 when it does not)
  verify-proof --span ID [--seq N]   fetch a span and its inclusion proof from the API and check them
                          against the log's key and the checkpoints kept (exit 1 when they fail)
    API options: --url (default http://127.0.0.1:4000/graphql), --token JWT or --api-key KEY (default:
    the local API key), --public-key HEX (default: this machine's deployment key), --key-name NAME,
    --dir FOLDER (checkpoints kept; default <data dir>/witness-client)

environment: DATABASE_URL (unset: embedded PGlite in LOGLINEOS_DATA_DIR, default ./.data),
             LOGLINEOS_SIGNING_KEY (hex Ed25519 seed; unset: a key file in the data folder),
             LOGLINEOS_KERNEL_INTERVAL_MS (serve: scheduled kernel passes, default 5000, 0 = off)`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      user: { type: 'string' },
      group: { type: 'string', multiple: true },
      port: { type: 'string' },
      dev: { type: 'boolean' },
      'tls-port': { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      'api-key': { type: 'string' },
      'public-key': { type: 'string' },
      'key-name': { type: 'string' },
      dir: { type: 'string' },
      span: { type: 'string' },
      seq: { type: 'string' },
      window: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  if (command === 'token') {
    if (!values.user) {
      console.error('token needs --user, e.g. loglineos token --user alice --tenant acme');
      return 2;
    }
    const issuer = await openIssuer(issuerKeyFile(loadConfig()));
    console.log(await issuer.issue({ user: values.user, tenant: values.tenant ?? null, groups: values.group ?? [] }));
    return 0;
  }
  if (command === 'witness' || command === 'verify-proof') return proofCommand(command, values);
  if (command === 'serve') return serve(values.port ?? process.env.PORT ?? '4000', values['tls-port'] ?? process.env.TLS_PORT ?? '4443', values.dev === true);
  if (!['migrate', 'status', 'verify', 'stats'].includes(command)) {
    console.error(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  const windowMs = command === 'stats' ? parseWindow(values.window ?? '1h') : 0;
  if (Number.isNaN(windowMs)) {
    console.error(`--window must be a number and a unit (s, m, h, d), e.g. 15m or 1h, got ${JSON.stringify(values.window)}`);
    return 2;
  }
  const config = loadConfig();
  const migrating = command === 'migrate' ? startProgress('migrating', { unit: 'migrations' }) : null;
  const ledger = await openLedger(config, SEEDS, migrating ? { onMigration: (checked, total) => migrating.update(checked, total) } : {});
  migrating?.finish();
  try {
    if (command === 'stats') {
      console.log(formatHealthStats(await readHealthStats(ledger, windowMs)));
      return 0;
    }
    const where = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
    if (command === 'migrate') {
      console.log(ledger.migrated.length ? `applied ${ledger.migrated.join(', ')} to ${where}` : `${where} is up to date`);
      return 0;
    }
    const chains = values.tenant !== undefined ? [values.tenant] : await listChains(ledger);
    if (command === 'status') {
      console.log(`ledger: ${where}; ${chains.length} chain(s); deployment key ${ledger.signer?.publicKeyHex ?? 'off'}`);
    }
    let failed = 0;
    for (const chain of chains) {
      const progress = startProgress(`verifying ${chain === '' ? '(tenantless)' : chain}`, { total: await chainLength(ledger, chain), unit: 'spans' });
      const report = await verifyChain(ledger, chain, { onProgress: (checked) => progress.update(checked) });
      progress.finish();
      if (!report.ok) failed += 1;
      console.log(describeReport(report));
    }
    return failed > 0 ? 1 : 0;
  } finally {
    await ledger.db.close();
  }
}

async function serve(portText: string, tlsPortText: string, dev: boolean): Promise<number> {
  const port = Number(portText);
  const tlsPort = Number(tlsPortText);
  for (const [name, value, text] of [['--port', port, portText], ['--tls-port', tlsPort, tlsPortText]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      console.error(`${name} must be a port number from 0 to 65535, got ${JSON.stringify(text)}`);
      return 2;
    }
  }
  // The server (and the client code of the proof commands) load only for the commands that use them,
  // so stats, verify and migrate start without compiling the whole API.
  const { createLocalServer } = await import('./server.ts');
  const { loadOrCreateTls } = await import('./tls.ts');
  const config = loadConfig();
  const ledger = await openLedger(config, SEEDS);
  const apiKey = await loadOrCreateApiKey(apiKeyFile(config));
  const issuer = await openIssuer(issuerKeyFile(config));
  // `serve` runs observer, request_worker and policy_agent every 5 s unless LOGLINEOS_KERNEL_INTERVAL_MS says otherwise (0 = off).
  const kernelIntervalMs = process.env.LOGLINEOS_KERNEL_INTERVAL_MS ?? '5000';
  // Checkpoint passes every 10 s, each checkpoint kept by a file witness in the data folder.
  const checkpointIntervalMs = process.env.LOGLINEOS_CHECKPOINT_INTERVAL_MS ?? '10000';
  const witnessDir = process.env.LOGLINEOS_WITNESS_DIR ?? join(config.dataDir, 'witness');
  const env = { ...process.env, LOGLINEOS_KERNEL_INTERVAL_MS: kernelIntervalMs, LOGLINEOS_CHECKPOINT_INTERVAL_MS: checkpointIntervalMs, LOGLINEOS_WITNESS_DIR: witnessDir };
  // The ledger's health as metric spans, one per figure per interval (LOGLINEOS_METRICS_INTERVAL_MS, 0 = off).
  const recorder = createMetricSpanRecorder(ledger, {
    intervalMs: metricSpanIntervalMs(process.env),
    source: 'local',
    onError: (error) => logger.warn('metric spans not written', { errorType: errorTypeOf(error), error: error as Error }),
  });
  const server = await createLocalServer({ ledger, apiKey, issuer, dev, env, console: { build: true } });
  const tls = await loadOrCreateTls(join(config.dataDir, 'keys'));
  let url: string;
  let tlsUrl: string;
  try {
    url = await server.listen(port);
    tlsUrl = await server.listenTls(tlsPort, tls, 'localhost');
  } catch (error) {
    await ledger.db.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`port ${port} or ${tlsPort} is already in use; pick others with PORT=… / --port … and TLS_PORT=… / --tls-port …`);
      return 1;
    }
    throw error;
  }
  recorder.start();
  console.log(`LogLineOS local AppSync: ${url}`);
  console.log(`  over TLS  ${tlsUrl}   (wss for Amplify; trust ${tls.caFile} with NODE_EXTRA_CA_CERTS)`);
  console.log(`  realtime  ${url.replace('http', 'ws')}/realtime`);
  console.log(`  console   ${url.replace(/\/graphql$/, '/console/')}   (sign in as a local user, with the API key or an app token)`);
  console.log(`  ledger    ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`}`);
  console.log(`  API key   ${apiKey}   (header x-api-key; public data only)`);
  console.log('  user JWT  npx loglineos token --user alice --tenant acme   (header Authorization)');
  console.log(`  kernels   scheduled passes ${Number(kernelIntervalMs) > 0 ? `every ${kernelIntervalMs} ms` : 'off'} (LOGLINEOS_KERNEL_INTERVAL_MS)`);
  console.log(`  proofs    checkpoint passes ${Number(checkpointIntervalMs) > 0 ? `every ${checkpointIntervalMs} ms` : 'off'} (LOGLINEOS_CHECKPOINT_INTERVAL_MS), witnessed in ${witnessDir}`);
  const metricsMs = metricSpanIntervalMs(process.env);
  console.log(`  health    ${metricsMs > 0 ? `metric spans every ${metricsMs} ms` : 'metric spans off'} (LOGLINEOS_METRICS_INTERVAL_MS): npx loglineos stats; JSON logs at ${logger.getLevelName()} (LOGLINEOS_LOG_LEVEL)`);
  if (dev) console.log('  dev mode: schema/ and resolvers/ reload on change');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await recorder.close();
  await ledger.db.close();
  return 0;
}

/** `30s`, `15m`, `1h`, `2d` in ms; NaN when it is none of these. */
function parseWindow(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (!match) return Number.NaN;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** The spans of one chain, for the progress of its verification (the chain index answers it). */
async function chainLength(ledger: Ledger, chain: string): Promise<number> {
  const [row] = await ledger.db.withLedger((tx) => tx.query<{ n: number | null }>('select max(chain_seq) as n from ledger.universal_registry where chain_key = $1', [chain]));
  return Number(row?.n ?? 0);
}

async function proofCommand(
  command: 'witness' | 'verify-proof',
  values: { tenant?: string; url?: string; token?: string; 'api-key'?: string; 'public-key'?: string; 'key-name'?: string; dir?: string; span?: string; seq?: string },
): Promise<number> {
  const { trustedKey, verifyProofCommand, witnessCommand } = await import('./proof-commands.ts');
  const config = loadConfig();
  const apiKey = values['api-key'] ?? (values.token ? undefined : readLocalApiKey(apiKeyFile(config)));
  if (!values.token && !apiKey) {
    console.error(`${command} needs --token JWT or --api-key KEY (no local API key in ${config.dataDir})`);
    return 2;
  }
  const options: ProofCommandOptions = {
    url: values.url ?? `http://127.0.0.1:${process.env.PORT ?? '4000'}/graphql`,
    auth: values.token ? { token: values.token } : { apiKey: apiKey! },
    key: trustedKey(values['public-key'], values['key-name'], keyFilePath(config)),
    dir: values.dir ?? join(config.dataDir, 'witness-client'),
  };
  if (command === 'verify-proof') {
    if (!values.span) {
      console.error('verify-proof needs --span ID (and --seq N for a version other than the latest)');
      return 2;
    }
    const seq = values.seq === undefined ? null : Number(values.seq);
    if (seq !== null && !Number.isInteger(seq)) {
      console.error(`--seq must be a whole number, got ${JSON.stringify(values.seq)}`);
      return 2;
    }
    const { verdict, text } = await verifyProofCommand(options, values.span, seq);
    console.log(text);
    return verdict.ok ? 0 : 1;
  }
  const { verdict, text } = await witnessCommand(options, values.tenant === undefined || values.tenant === '' ? null : values.tenant);
  console.log(text);
  return verdict.ok ? 0 : 1;
}

function readLocalApiKey(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

function describeReport(report: ChainReport): string {
  const name = report.chain === '' ? '(tenantless)' : report.chain;
  const head = report.head ? `head ${report.head.chainSeq} ${report.head.chainHash}` : 'empty';
  if (report.ok) return `ok    ${name}: ${report.checked} spans, ${head}`;
  const f = report.failure;
  return `FAIL  ${name}: ${report.checked} spans verified, then span ${f?.id}/${f?.seq} at chain position ${f?.chainSeq}: ${f?.code}: ${f?.reason}`;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`loglineos: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
