import { randomUUID } from 'node:crypto';
import type { TestApi } from '../support/api.ts';
import { RealtimeTestClient, type Frame } from '../support/realtime.ts';

export const RUN = `mutation Run($input: RunPromptInput!) { runPrompt(input: $input) { runId traceId variant variantId compiledHash model provider } }`;
export const SUBSCRIBE = `subscription Run($runId: ID!) { onPromptRun(runId: $runId) { runId ownerId tenantId seq kind text result error } }`;

export interface RunEventData {
  runId: string;
  seq: number;
  kind: 'chunk' | 'result' | 'error';
  text: string | null;
  result: string | null;
  error: string | null;
}

export interface Subscriber {
  readonly client: RealtimeTestClient;
  events(): RunEventData[];
  final(): Promise<RunEventData>;
  close(): void;
}

/** Opens a socket as the caller and subscribes to onPromptRun(runId); resolves once AppSync acknowledged it. */
export async function subscribeRun(api: TestApi, auth: Record<string, string>, runId: string): Promise<Subscriber> {
  const client = await RealtimeTestClient.open(api.url, auth);
  await client.init();
  const id = randomUUID();
  client.start(id, SUBSCRIBE, { runId }, auth, new URL(api.url).host);
  const ack = await client.next((frame) => (frame.type === 'start_ack' || frame.type === 'error') && frame.id === id);
  if (ack.type === 'error') throw new Error(`subscription refused: ${JSON.stringify(ack.payload)}`);
  const data = (frame: Frame) => (frame.payload?.data as { onPromptRun: RunEventData }).onPromptRun;
  return {
    client,
    events: () => client.dataFor(id).map(data),
    final: async () => data(await client.next((frame) => frame.type === 'data' && frame.id === id && data(frame).kind !== 'chunk', 20_000)),
    close: () => client.close(),
  };
}

export async function gql<T = Record<string, unknown>>(api: TestApi, auth: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<T> {
  const { body } = await api.request(auth, query, variables);
  if (body.errors?.length) throw new Error(JSON.stringify(body.errors));
  return body.data as T;
}
