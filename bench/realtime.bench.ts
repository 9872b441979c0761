import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { signerFromSeed } from '../functions/ledger/index.ts';
import { createLocalServer } from '../local/server.ts';
import { withBenchDatabase } from './fixture.ts';
import { line, percentile, rate, ratio, timed } from './report.ts';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** Fan-out child processes of the server under test (LOGLINEOS_FANOUT_WORKERS; 0 = in process). */
const WORKERS = Number(process.env.LOGLINEOS_FANOUT_WORKERS ?? 2);

interface Report {
  latencies: number[];
  delivered: number;
}

/**
 * One publisher appending public spans over HTTP (PostgreSQL), 1,000 subscribers on the real-time
 * endpoint over loopback, in a child process of their own so the server under test keeps its
 * process. Baseline for the ratio, in the same run: the same appends with nobody subscribed. Then
 * RUNS runs of EVENTS appends, each with every subscriber listening: the appends' rate, and the time
 * from each span's insert (recordedAt, inside the committing transaction) to its delivery at each
 * subscriber, p99 per run.
 */
export async function realtimeBench(url: string): Promise<void> {
  await withBenchDatabase(url, 8, async ({ db, issuer }) => {
    const server = await createLocalServer({ ledger: { db, signer: signerFromSeed('42'.repeat(32)) }, apiKey: 'da2-bench', issuer, fanoutWorkers: WORKERS });
    const endpoint = await server.listen(0);
    const token = await issuer.issue({ user: 'publisher', tenant: 'bench' });
    const entityType = 'live_bench';
    const body = (i: number, type: string) =>
      JSON.stringify({ query: 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id } }', variables: { input: { entityType: type, who: 'bench', did: 'wrote', this: `event ${i}`, visibility: 'public' } } });
    // node:http with keep-alive rather than fetch: the publisher runs in the server's process, and
    // undici's fetch would cost that process more than the server's own work per append.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const append = (i: number, type: string) =>
      new Promise<void>((resolve, reject) => {
        const text = body(i, type);
        const req = request(endpoint, { method: 'POST', agent, headers: { authorization: token, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`append failed: ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(text);
      });
    console.log(`\n# real-time: 1 publisher, ${SUBSCRIBERS} subscribers (own process), ${RUNS} runs of ${EVENTS} spans, ${WORKERS} fan-out processes, PostgreSQL`);
    for (let i = 0; i < 20; i += 1) await append(i, 'warm_up');
    const aloneCpu = process.cpuUsage();
    const alone = await timed(async () => {
      for (let i = 0; i < EVENTS; i += 1) await append(i, 'nobody_listens');
    });
    const serverCpuAlone = cpuMs(process.cpuUsage(aloneCpu)) / EVENTS;

    const started = performance.now();
    const subscribers = fork(new URL('./realtime-subscribers.worker.mjs', import.meta.url), [
      JSON.stringify({ realtimeUrl: endpoint.replace('http', 'ws').replace(/\/graphql$/, '/graphql/realtime'), host: new URL(endpoint).host, apiKey: 'da2-bench', count: SUBSCRIBERS, entityType }),
    ], { execArgv: [] });
    await nextMessage(subscribers, 'ready');
    line(`${SUBSCRIBERS.toLocaleString('en-US')} subscribers connected and started`, `${Math.round(performance.now() - started)} ms`, '(includes starting the fan-out processes)');

    const fanoutPids = [...server.realtime.fanoutPids];
    const before = { server: process.cpuUsage(), fanout: sumCpuMs(fanoutPids), subscribers: sumCpuMs([subscribers.pid ?? 0]) };
    const rates: number[] = [];
    const p99s: number[] = [];
    for (let run = 1; run <= RUNS; run += 1) {
      const watched = await timed(async () => {
        for (let i = 0; i < EVENTS; i += 1) await append(i, entityType);
      });
      const report = await drain(subscribers, SUBSCRIBERS * EVENTS);
      const sorted = report.latencies.sort((a, b) => a - b);
      rates.push(EVENTS / watched.seconds);
      p99s.push(percentile(sorted, 99));
      line(
        `run ${run}: insert → delivery p50 / p99`,
        `${percentile(sorted, 50)} / ${percentile(sorted, 99)} ms`,
        `${report.delivered.toLocaleString('en-US')}/${(SUBSCRIBERS * EVENTS).toLocaleString('en-US')} delivered, appends ${rate(EVENTS, watched.seconds)}`,
      );
    }
    const deliveries = RUNS * EVENTS * SUBSCRIBERS;
    const cpu = { server: cpuMs(process.cpuUsage(before.server)), fanout: sumCpuMs(fanoutPids) - before.fanout, subscribers: sumCpuMs([subscribers.pid ?? 0]) - before.subscribers };
    subscribers.send('close');
    const baseline = EVENTS / alone.seconds;
    const withSubscribers = rates.reduce((sum, r) => sum + r, 0) / rates.length;
    line('insert → delivery p99, worst run', `${Math.max(...p99s)} ms`, `goal ≤ 50 ms in every run (${p99s.filter((p) => p <= 50).length}/${RUNS})`);
    line('deliveries per second (at the appends\' rate)', `${Math.round(withSubscribers * SUBSCRIBERS).toLocaleString('en-US')}/s`);
    line('appends/s with nobody subscribed (baseline)', `${Math.round(baseline).toLocaleString('en-US')}/s`);
    line(`appends/s with ${SUBSCRIBERS.toLocaleString('en-US')} subscribers (mean of runs)`, `${Math.round(withSubscribers).toLocaleString('en-US')}/s`);
    ratio('ratio: appends with ÷ without subscribers', withSubscribers / baseline, '≥ 0.7');
    line('server process CPU per append, without / with subscribers', `${serverCpuAlone.toFixed(2)} / ${(cpu.server / (RUNS * EVENTS)).toFixed(2)} ms`, '(includes the publisher\'s fetch)');
    line('CPU per delivery: fan-out processes / subscribers', `${((cpu.fanout * 1000) / deliveries).toFixed(1)} / ${((cpu.subscribers * 1000) / deliveries).toFixed(1)} µs`, WORKERS === 0 ? '(fan-out in the server process)' : '');
    agent.destroy();
    await server.close();
  });
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

/** User plus system CPU of these processes so far (Linux /proc), in ms. */
function sumCpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // not Linux, or gone
    }
  }
  return ticks * 10;
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const listen = (message: { type?: string }) => {
      if (message.type !== type) return;
      child.off('message', listen);
      child.off('exit', exit);
      resolve(message as T);
    };
    const exit = (code: number | null) => reject(new Error(`the subscribers' process exited (code ${code})`));
    child.on('message', listen);
    child.once('exit', exit);
  });
}

/** Collects reports until every expected delivery arrived (or 60 s passed). */
async function drain(child: ChildProcess, expected: number): Promise<Report> {
  const total: Report = { latencies: [], delivered: 0 };
  const start = Date.now();
  while (total.delivered < expected && Date.now() - start < 60_000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const report = nextMessage<Report>(child, 'report');
    child.send('report');
    const { latencies, delivered } = await report;
    for (const latency of latencies) total.latencies.push(latency);
    total.delivered += delivered;
  }
  return total;
}
