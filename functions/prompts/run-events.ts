import { iamGraphqlSender, type AppSyncPublisherOptions } from '../commons/appsync-publisher.ts';

/**
 * One event of a prompt run on `Subscription.onPromptRun(runId)`: text chunks in `seq` order, then
 * exactly one `result` or `error`. `ownerId` and `tenantId` are what the subscription filter matches,
 * so only the run's owner receives them.
 */
export interface PromptRunEvent {
  readonly runId: string;
  readonly ownerId: string;
  readonly tenantId: string | null;
  readonly seq: number;
  readonly kind: 'chunk' | 'result' | 'error';
  readonly text: string | null;
  /** JSON text (AWSJSON) of the run's outcome, on `result` and `error`. */
  readonly result: string | null;
  readonly error: string | null;
}

export type RunEventSink = (event: PromptRunEvent) => Promise<void>;

export const PUBLISH_PROMPT_RUN_EVENT = `mutation PublishPromptRunEvent($event: PromptRunEventInput!) {
  publishPromptRunEvent(event: $event) { runId ownerId tenantId seq kind text result error }
}`;

/** A GraphQL call made as the deployment's internal IAM principal. */
export type InternalGraphql = (request: { query: string; variables?: Record<string, unknown> }) => Promise<{ data?: unknown; errors?: readonly { message: string }[] }>;

/** Locally: the publishing mutation, run in process as the internal writer. */
export function graphqlSink(call: InternalGraphql): RunEventSink {
  return async (event) => {
    const body = await call({ query: PUBLISH_PROMPT_RUN_EVENT, variables: { event } });
    if (body.errors?.length) throw new Error(`publishPromptRunEvent failed: ${body.errors.map((error) => error.message).join('; ')}`);
  };
}

/** On AWS: the publishing mutation over HTTPS, SigV4-signed as the prompts Lambda's role. */
export function appSyncSink(options: AppSyncPublisherOptions): RunEventSink {
  const sendMutation = iamGraphqlSender(options);
  return (event) => sendMutation('publishPromptRunEvent', PUBLISH_PROMPT_RUN_EVENT, { event });
}

export const noSink: RunEventSink = async () => undefined;

/** AppSync delivers at most 240 KB per message; chunks are far smaller, results are capped below it. */
const MAX_CHUNK_CHARS = 32 * 1024;

/**
 * Sends one run's events in order, one publish in flight at a time. Text that arrives while a
 * publish is in flight is joined into the next chunk, so a slow publisher (an HTTPS call per event
 * on AWS) never falls behind the model or reorders events. A failed chunk publish is logged and the
 * run goes on (its span keeps the whole answer); the final event is always attempted.
 */
export class RunEventStream {
  private seq = 0;
  private pending = '';
  private tail: Promise<void> = Promise.resolve();
  private flushing = false;

  constructor(
    private readonly sink: RunEventSink,
    private readonly base: Pick<PromptRunEvent, 'runId' | 'ownerId' | 'tenantId'>,
  ) {}

  chunk(text: string): void {
    this.pending += text;
    if (!this.flushing) this.scheduleFlush();
  }

  /** Sends what is pending, then the final event; resolves when it was handed to the sink. */
  async finish(kind: 'result' | 'error', outcome: unknown): Promise<void> {
    this.scheduleFlush();
    const json = JSON.stringify(outcome);
    await this.enqueue({ kind, text: null, result: kind === 'result' ? json : null, error: kind === 'error' ? json : null });
  }

  private scheduleFlush(): void {
    if (this.pending === '') return;
    this.flushing = true;
    this.tail = this.tail.then(async () => {
      while (this.pending !== '') {
        const text = this.pending.slice(0, MAX_CHUNK_CHARS);
        this.pending = this.pending.slice(text.length);
        await this.send({ kind: 'chunk', text, result: null, error: null });
      }
      this.flushing = false;
    });
  }

  private enqueue(part: Pick<PromptRunEvent, 'kind' | 'text' | 'result' | 'error'>): Promise<void> {
    this.tail = this.tail.then(() => this.send(part));
    return this.tail;
  }

  private async send(part: Pick<PromptRunEvent, 'kind' | 'text' | 'result' | 'error'>): Promise<void> {
    const event: PromptRunEvent = { ...this.base, seq: this.seq++, ...part };
    try {
      await this.sink(event);
    } catch (error) {
      console.error(JSON.stringify({ level: 'warn', message: 'publishing a prompt run event failed', runId: event.runId, seq: event.seq, kind: event.kind, error: error instanceof Error ? error.message : String(error) }));
    }
  }
}
