import type { Identity } from '../commons/db/index.ts';
import type { Ledger, Span } from '../ledger/index.ts';
import type { ConfiguredModelProvider } from '../models/index.ts';
import type { MemorySearch } from './context.ts';
import type { RunEventSink } from './run-events.ts';

/** Priorities of the four kinds of block (SPEC §6): the higher, the earlier in the system prompt. */
export const BLOCK_PRIORITY = { doctrine: 120, product: 100, app: 90, task: 70 } as const;

export interface PromptBlock {
  readonly id: string;
  readonly seq: number;
  readonly name: string;
  readonly text: string;
  readonly priority: number;
  readonly tags: readonly string[];
  readonly expiresAt: string | null;
  readonly at: string;
  readonly span: Span;
}

export interface PromptVariant {
  readonly id: string;
  readonly seq: number;
  /** `family@version`. */
  readonly name: string;
  readonly family: string;
  readonly version: string;
  readonly blockIds: readonly string[];
  readonly defaults: Readonly<Record<string, string>>;
  readonly at: string;
  readonly span: Span;
}

/** What a prompt run needs beyond the ledger: the model, where its events go, memory, and limits. */
export interface PromptRuntime {
  readonly model: ConfiguredModelProvider;
  readonly events: RunEventSink;
  /** Absent until the memory domain is wired: runs then have no context. */
  readonly memory?: MemorySearch;
  /** Runs a started run to its end: in the background of this process, or in another invocation. */
  readonly launch: (job: RunJob) => Promise<void>;
  readonly settings: PromptSettings;
}

export interface PromptSettings {
  /** Tokens of context a run may put before the question (default 1500). */
  readonly maxContextTokens: number;
  /** Memory hits asked for (default 8). */
  readonly topK: number;
  /** A run that has not ended by then is aborted and ends in an error (default 300 s). */
  readonly runTimeoutMs: number;
  /** Tokens the model may answer with (default 1024). */
  readonly maxOutputTokens: number;
}

export interface PromptContext {
  readonly ledger: Ledger;
  readonly runtime: PromptRuntime;
}

/** A run that was accepted: everything the background part needs, serialisable (it may cross a Lambda invocation). */
export interface RunJob {
  readonly runId: string;
  readonly identity: Identity;
  readonly traceId: string;
  readonly variant: { readonly id: string; readonly seq: number; readonly name: string; readonly family: string };
  readonly compiled: { readonly system: string; readonly hash: string; readonly blocks: readonly { readonly id: string; readonly seq: number }[] };
  readonly variables: Readonly<Record<string, string>>;
  readonly userInput: string;
  readonly useMemory: boolean;
  /** Secret and pii memories may be context (default false: they never reach the model, its answer or the run span). */
  readonly includeSensitiveMemory?: boolean;
  readonly sessionId: string | null;
  readonly modelId: string;
  readonly startedAt: string;
  /** When set (evaluations), this context is used instead of a memory search. */
  readonly fixedContext?: readonly ContextPiece[];
}

export interface ContextPiece {
  readonly spanId: string;
  readonly text: string;
  readonly score: number | null;
  /** From a secret or pii memory (only with includeSensitiveMemory). */
  readonly sensitive?: boolean;
}
