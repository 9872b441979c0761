import { intSetting } from '../commons/config.ts';
import { providerFromEnv, type ConfiguredModelProvider } from '../models/index.ts';
import { lambdaLauncher } from './async-invoke.ts';
import type { MemorySearch } from './context.ts';
import type { Ledger } from '../ledger/index.ts';
import { appSyncSink, graphqlSink, noSink, type InternalGraphql, type RunEventSink } from './run-events.ts';
import { executeRun } from './run.ts';
import type { PromptRuntime, PromptSettings, RunJob } from './types.ts';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

export function settingsFromEnv(env: NodeJS.ProcessEnv): PromptSettings {
  return {
    maxContextTokens: intSetting(env, 'LOGLINEOS_PROMPT_CONTEXT_TOKENS', 1500, 0, 100_000),
    topK: intSetting(env, 'LOGLINEOS_PROMPT_TOP_K', 8, 1, 50),
    runTimeoutMs: intSetting(env, 'LOGLINEOS_PROMPT_RUN_TIMEOUT_MS', 300_000, 1000, 900_000),
    maxOutputTokens: intSetting(env, 'LOGLINEOS_PROMPT_MAX_OUTPUT_TOKENS', 1024, 1, 64_000),
  };
}

export interface RuntimeOptions {
  readonly ledger: Ledger;
  readonly env: NodeJS.ProcessEnv;
  /** In-process publishing (the local server); on AWS, APPSYNC_GRAPHQL_URL is used instead. */
  readonly internalGraphql?: InternalGraphql | undefined;
  readonly model?: ConfiguredModelProvider;
  readonly memory?: MemorySearch | undefined;
  /** The Lambda role's credentials on AWS (default provider chain). */
  readonly credentials?: () => AwsCredentialIdentityProvider;
}

export interface HostedPromptRuntime extends PromptRuntime {
  /** Runs a job in this process to its end (the background of a local server, or the invocation a launcher started). */
  runJob(job: RunJob): Promise<unknown>;
  /**
   * Aborts the runs still going in this process (each ends in an `error` event and span,
   * `ShuttingDown`) and waits until they have been recorded (local server shutdown).
   */
  close(): Promise<void>;
}

/**
 * The prompts runtime of one container or local server. Events go to the in-process publisher when
 * the host gives one, else to AppSync (APPSYNC_GRAPHQL_URL, SigV4). Runs start in a new Event
 * invocation of the prompts Lambda when PROMPTS_FUNCTION_NAME is set, else in this process's
 * background.
 */
export function createPromptRuntime(options: RuntimeOptions): HostedPromptRuntime {
  const { env } = options;
  const model = options.model ?? providerFromEnv(env);
  const region = env.AWS_REGION ?? 'us-east-1';
  const events: RunEventSink = options.internalGraphql
    ? graphqlSink(options.internalGraphql)
    : env.APPSYNC_GRAPHQL_URL && options.credentials
      ? appSyncSink({ graphqlUrl: env.APPSYNC_GRAPHQL_URL, region, credentials: options.credentials() })
      : noSink;
  const settings = settingsFromEnv(env);
  const running = new Set<Promise<unknown>>();
  const shutdown = new AbortController();
  const runJob = (job: RunJob) => executeRun({ ledger: options.ledger, model, events, memory: options.memory, settings, shutdown: shutdown.signal }, job);
  return {
    model,
    events,
    ...(options.memory ? { memory: options.memory } : {}),
    settings,
    launch: env.PROMPTS_FUNCTION_NAME && options.credentials
      ? lambdaLauncher({ functionName: env.PROMPTS_FUNCTION_NAME, region, credentials: options.credentials() })
      : async (job: RunJob) => {
          const run = runJob(job).finally(() => running.delete(run));
          running.add(run);
        },
    runJob,
    close: async () => {
      shutdown.abort();
      await Promise.allSettled([...running]);
    },
  };
}
