// 1,000 real-time subscribers in a thread of their own: each connects over the AppSync protocol,
// subscribes to the live timeline, and notes when every event arrives.
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const { realtimeUrl, host, apiKey, count, entityType } = workerData;
const header = Buffer.from(JSON.stringify({ host, 'x-api-key': apiKey })).toString('base64');
const query = 'subscription S($t: [String!]) { onTimeline(entityTypes: $t) { id span } }';
const latencies = [];
let delivered = 0;

const sockets = await Promise.all(
  Array.from({ length: count }, () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${realtimeUrl}?header=${header}&payload=e30=`, ['graphql-ws']);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
      ws.on('error', reject);
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data));
        if (frame.type === 'connection_ack') {
          ws.send(JSON.stringify({ id: '1', type: 'start', payload: { data: JSON.stringify({ query, variables: { t: [entityType] } }), extensions: { authorization: { host, 'x-api-key': apiKey } } } }));
        } else if (frame.type === 'start_ack') {
          resolve(ws);
        } else if (frame.type === 'data') {
          const now = Date.now();
          const span = JSON.parse(frame.payload.data.onTimeline.span);
          latencies.push(now - Date.parse(span.recordedAt));
          delivered += 1;
        }
      });
    }),
  ),
);
parentPort.postMessage({ type: 'ready' });
parentPort.on('message', (message) => {
  if (message === 'report') parentPort.postMessage({ type: 'report', latencies, delivered });
  if (message === 'close') for (const ws of sockets) ws.close();
});
