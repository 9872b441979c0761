// AWS Amplify JS v6, configured as an app would be for an AppSync API, pointed at the local server.
// Prints one JSON line per step for the test that runs it (test/realtime/amplify.test.ts).
import WebSocket from 'ws';
import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { Hub } from 'aws-amplify/utils';

globalThis.WebSocket = WebSocket; // Node 20 has no global WebSocket

const [endpoint, apiKey, entityType] = process.argv.slice(2);
const say = (message) => console.log(JSON.stringify(message));
Amplify.configure({ API: { GraphQL: { endpoint, region: 'us-east-1', defaultAuthMode: 'apiKey', apiKey } } });
const client = generateClient();

const queried = await client.graphql({ query: 'query Head { timelineHead }' });
say({ step: 'query', data: queried.data });

Hub.listen('api', ({ payload }) => {
  if (payload.event === 'ConnectionStateChange') say({ step: 'state', state: payload.data.connectionState });
});
const subscription = client
  .graphql({ query: `subscription Live { onTimeline(entityTypes: ["${entityType}"]) { id cursor visibility entityType } }` })
  .subscribe({
    next: (message) => {
      say({ step: 'event', data: message.data });
      subscription.unsubscribe();
      setTimeout(() => process.exit(0), 100);
    },
    error: (error) => {
      say({ step: 'error', error: error?.errors ?? String(error) });
      process.exit(1);
    },
  });
setTimeout(() => {
  say({ step: 'timeout' });
  process.exit(2);
}, 30_000);
