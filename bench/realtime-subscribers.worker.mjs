// The real-time subscribers of the benchmark, in a child process of their own (not a thread of the
// server's process): each connects over the AppSync protocol, subscribes to the live timeline, and
// notes how long after its insert every event arrived. Started with the settings as argv[2] (JSON);
// answers 'report' with the latencies since the last report, and exits on 'close'.
import WebSocket from 'ws';

const { realtimeUrl, host, apiKey, count, entityType } = JSON.parse(process.argv[2]);
const header = Buffer.from(JSON.stringify({ host, 'x-api-key': apiKey })).toString('base64');
const query = 'subscription S($t: [String!]) { onTimeline(entityTypes: $t) { id span } }';
// The span travels as a JSON string inside the frame; its recordedAt is found in the bytes and
// read alone, without decoding or parsing the frame (this process shares the server's two cores).
const RECORDED_AT = Buffer.from('recordedAt\\":\\"');
const DATA = Buffer.from('{"type":"data"');
const QUOTE = Buffer.from('\\"');
let latencies = [];
let delivered = 0;

// Progress, printed every second with BENCH_DEBUG=1 (a handshake that never completes shows here).
const state = { opened: 0, acked: 0, started: 0, closed: 0 };
const connect = () =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`${realtimeUrl}?header=${header}&payload=e30=`, ['graphql-ws'], { skipUTF8Validation: true });
    ws.on('close', () => state.closed++);
    ws.on('open', () => {
      state.opened += 1;
      ws.send(JSON.stringify({ type: 'connection_init' }));
    });
    ws.on('error', reject);
    ws.on('message', (data) => {
      const now = Date.now();
      if (data.subarray(0, DATA.length).equals(DATA)) {
        const at = data.indexOf(RECORDED_AT);
        if (at >= 0) {
          const start = at + RECORDED_AT.length;
          latencies.push(now - Date.parse(data.toString('latin1', start, data.indexOf(QUOTE, start))));
        }
        delivered += 1;
        return;
      }
      const text = String(data);
      const frame = JSON.parse(text);
      if (frame.type === 'connection_ack') {
        state.acked++;
        ws.send(JSON.stringify({ id: '1', type: 'start', payload: { data: JSON.stringify({ query, variables: { t: [entityType] } }), extensions: { authorization: { host, 'x-api-key': apiKey } } } }));
      } else if (frame.type === 'start_ack') {
        state.started++;
        resolve(ws);
      } else if (frame.type === 'error' || frame.type === 'connection_error') {
        if (process.env.BENCH_DEBUG) console.error(text);
        reject(new Error(`subscriber refused: ${text}`));
      }
    });
  });

// A hundred at a time: a thousand handshakes at once only queue on two cores.
const sockets = []; if (process.env.BENCH_DEBUG) setInterval(() => console.error('connected', sockets.length, state), 1000).unref();
for (let i = 0; i < count; i += 100) sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, connect))));
process.send({ type: 'ready' });
process.on('message', (message) => {
  if (message === 'report') {
    process.send({ type: 'report', latencies, delivered });
    latencies = [];
    delivered = 0;
  }
  if (message === 'close') {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
