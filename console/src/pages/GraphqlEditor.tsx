import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { GraphiQL } from 'graphiql';
import { useMemo } from 'react';
import type { Connection } from '../session.ts';

type GraphiQLFetcher = Parameters<typeof GraphiQL>[0]['fetcher'];

const EXAMPLE = `# Runs as you: the same auth header as every page of the console.
query Recent {
  timeline(first: 10) {
    edges { cursor node { id entityType who did this visibility chainSeq } }
  }
}
`;

/** GraphiQL, bundled (the machine may be offline), sending the signed-in caller's auth header. */
export default function GraphqlEditor({ connection }: { connection: Connection }) {
  const fetcher = useMemo<GraphiQLFetcher>(() => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...('apiKey' in connection.auth ? { 'x-api-key': connection.auth.apiKey } : {}) };
    return async (params) => {
      const token = 'token' in connection.auth ? connection.auth.token : null;
      const authorization = typeof token === 'function' ? await token() : token;
      const response = await fetch(connection.url, { method: 'POST', headers: { ...headers, ...(authorization ? { authorization } : {}) }, body: JSON.stringify(params) });
      return (await response.json()) as Record<string, unknown>;
    };
  }, [connection]);
  return (
    <div className="graphiql" data-testid="graphiql">
      <GraphiQL fetcher={fetcher} defaultQuery={EXAMPLE} />
    </div>
  );
}
