// The subscriber of the prompts benchmark, in a thread of its own so that its socket work does not
// share the server's event loop: subscribes to onPromptRun(runId) on request and reports when the
// first chunk and the final event arrived (absolute times: timeOrigin + now).
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const { realtimeUrl, host, token } = workerData;
const header = Buffer.from(JSON.stringify({ host, authorization: token })).toString('base64');
const query = 'subscription R($runId: ID!) { onPromptRun(runId: $runId) { runId seq kind text result error } }';
const now = () => performance.timeOrigin + performance.now();
const runs = new Map();

const socket = new WebSocket(`${realtimeUrl}?header=${header}&payload=e30=`, ['graphql-ws']);
socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
socket.on('message', (data) => {
  const at = now();
  const frame = JSON.parse(String(data));
  if (frame.type === 'connection_ack') return parentPort.postMessage({ type: 'ready' });
  const run = runs.get(frame.id);
  if (!run) return;
  if (frame.type === 'start_ack') return parentPort.postMessage({ type: 'subscribed', runId: frame.id });
  const event = frame.payload?.data?.onPromptRun;
  if (frame.type !== 'data' || !event) return;
  if (event.kind === 'chunk') run.firstAt ??= at;
  else {
    socket.send(JSON.stringify({ id: frame.id, type: 'stop' }));
    runs.delete(frame.id);
    parentPort.postMessage({ type: 'done', runId: frame.id, firstAt: run.firstAt, finalAt: at, kind: event.kind });
  }
});
parentPort.on('message', (message) => {
  if (message.type === 'subscribe') {
    runs.set(message.runId, {});
    socket.send(JSON.stringify({ id: message.runId, type: 'start', payload: { data: JSON.stringify({ query, variables: { runId: message.runId } }), extensions: { authorization: { host, authorization: token } } } }));
  } else if (message.type === 'close') {
    socket.close();
  }
});
