// The benchmark's clients in a thread of their own, so the server under test keeps its event loop:
// each entry of `clients` is one client appending its inputs one after another, all at once.
import { parentPort, workerData } from 'node:worker_threads';

const { endpoint, clients } = workerData;
const mutation = 'mutation Append($input: SpanInput!) { appendSpan(input: $input) { id seq chainSeq cursor } }';
await Promise.all(
  clients.map(async ({ token, inputs }) => {
    for (const input of inputs) {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { authorization: token, 'content-type': 'application/json' },
        body: JSON.stringify({ query: mutation, variables: { input } }),
      });
      const body = await response.json();
      if (body.errors) throw new Error(`appendSpan failed: ${JSON.stringify(body.errors)}`);
    }
  }),
);
parentPort.postMessage('done');
