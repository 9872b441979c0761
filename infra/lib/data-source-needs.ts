import { Duration } from 'aws-cdk-lib';

/** A Lambda that EventBridge invokes on a schedule, from the same code as its data source. */
export interface ScheduledJob {
  /** Construct id and what the job is, for descriptions. */
  readonly id: string;
  readonly description: string;
  /** Entry file and exported handler. */
  readonly entry: string;
  readonly handler: string;
  readonly every: Duration;
}

/**
 * What a data source's Lambda needs beyond the ledger: a longer timeout, the kernel sandbox's files,
 * a model, memory's key, starting its own asynchronous runs, the checkpoint bucket, schedules, and
 * which IAM-only publish mutations it calls. Data sources not listed need nothing more.
 */
export interface DataSourceNeeds {
  readonly timeout?: Duration;
  readonly memoryMiB?: number;
  /** The QuickJS worker and its .wasm beside the bundle (kernels run in worker threads). */
  readonly sandbox?: boolean;
  /** Bedrock: the text model (ConverseStream needs InvokeModelWithResponseStream) and the embedding model. */
  readonly bedrock?: { readonly text?: boolean; readonly embeddings?: boolean };
  /** Generates and unwraps per-tenant memory data keys with the memory key. */
  readonly memoryKey?: boolean;
  /** The function invokes itself with InvocationType Event; its name is given in this variable. */
  readonly selfInvokeVariable?: string;
  /** Keeps signed checkpoints in the Object Lock bucket (LOGLINEOS_WITNESS_BUCKET, s3:PutObject under checkpoints/). */
  readonly witnessBucket?: boolean;
  readonly schedules?: readonly ScheduledJob[];
  /** IAM-only mutations (Mutation.<name>) this function calls to put events on subscriptions. */
  readonly publishes: readonly string[];
}

/** The longest a prompt run or a scheduled kernel may go on after AppSync's 30 s answer. */
export const LONG_RUN = Duration.minutes(5);

export const DATA_SOURCE_NEEDS: Readonly<Record<string, DataSourceNeeds>> = {
  ledger: {
    // checkpointLedger writes a checkpoint on demand; the schedule writes the due ones.
    witnessBucket: true,
    publishes: ['publishSpan'],
    schedules: [
      {
        id: 'LedgerCheckpoints',
        description: 'signs a checkpoint of every Merkle log that is due and gives it to the witness bucket',
        entry: 'functions/api/ledger.handler.ts',
        handler: 'scheduled',
        every: Duration.minutes(1),
      },
    ],
  },
  kernels: {
    timeout: LONG_RUN,
    memoryMiB: 1024,
    sandbox: true,
    bedrock: { text: true },
    // scheduleKernel starts the run in an Event invocation of the kernels function itself.
    selfInvokeVariable: 'KERNELS_FUNCTION_NAME',
    publishes: ['publishSpan'],
    schedules: [
      {
        id: 'KernelPasses',
        description: 'observer, request_worker and policy_agent: one pass for every owner with work',
        entry: 'functions/api/kernels.handler.ts',
        handler: 'scheduled',
        every: Duration.minutes(1),
      },
    ],
  },
  memory: {
    memoryKey: true,
    bedrock: { embeddings: true },
    publishes: ['publishSpan'],
    schedules: [
      {
        id: 'MemoryReaper',
        description: 'forgets memories whose TTL has passed',
        entry: 'functions/api/memory/reaper.handler.ts',
        handler: 'handler',
        every: Duration.minutes(15),
      },
    ],
  },
  prompts: {
    timeout: LONG_RUN,
    bedrock: { text: true },
    // Context comes from a memory search: the query is embedded and secret memories are decrypted for their owner.
    memoryKey: true,
    selfInvokeVariable: 'PROMPTS_FUNCTION_NAME',
    publishes: ['publishSpan', 'publishPromptRunEvent'],
  },
};
