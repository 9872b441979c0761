// The benchmark's clients in a thread of their own, so the server under test keeps its event loop:
// each entry of `clients` is one client appending its inputs one after another, all at once.
// node:http with a keep-alive agent, not fetch: undici's fetch cost about 2.5 ms of CPU per request
// here, as much as the server's own work, on the same two cores as the server and PostgreSQL.
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { endpoint, clients } = workerData;
const mutation = 'mutation Append($input: SpanInput!) { appendSpan(input: $input) { id seq chainSeq cursor } }';
const url = new URL(endpoint);
const agent = new Agent({ keepAlive: true, maxSockets: clients.length });

function post(token, body) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { authorization: token, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

await Promise.all(
  clients.map(async ({ token, inputs }) => {
    for (const input of inputs) {
      const body = JSON.parse(await post(token, JSON.stringify({ query: mutation, variables: { input } })));
      if (body.errors) throw new Error(`appendSpan failed: ${JSON.stringify(body.errors)}`);
    }
  }),
);
agent.destroy();
parentPort.postMessage('done');
