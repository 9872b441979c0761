import { PUBLISHER } from '../../local/server.ts';
import type { TestApi } from './api.ts';

/** Publishes an event as the internal IAM writer, selecting `selection` in the mutation. */
export async function publish(api: TestApi, event: Record<string, unknown>, selection: string): Promise<void> {
  const body = await api.server.execute(PUBLISHER, { query: `mutation P($event: SpanEventInput!) { ${selection} }`, variables: { event } });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
}
