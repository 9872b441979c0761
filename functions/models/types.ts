/**
 * The contract between LogLineOS and a language model. Two implementations: Amazon Bedrock
 * (ConverseStream through @aws-sdk/client-bedrock-runtime) and an offline provider that needs no
 * network and answers deterministically, so every path works on `npm start`.
 */

export interface ModelMessage {
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

export interface ModelRequest {
  /** A Bedrock model id or inference profile id (for example `anthropic.claude-3-5-haiku-20241022-v1:0`). */
  readonly modelId: string;
  readonly system: string;
  readonly messages: readonly ModelMessage[];
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly signal?: AbortSignal;
}

/** Events of one streamed answer, in order: text deltas, then exactly one `end` (or a thrown error). */
export type ModelEvent =
  | { readonly type: 'text'; readonly text: string }
  | {
      readonly type: 'end';
      readonly stopReason: string;
      readonly inputTokens: number;
      readonly outputTokens: number;
    };

export interface ModelCompletion {
  readonly text: string;
  readonly stopReason: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly modelId: string;
  readonly offline: boolean;
}

export interface ModelProvider {
  /** `bedrock` or `offline`; recorded on every span the model's answer produces. */
  readonly name: string;
  readonly offline: boolean;
  /**
   * Streams one answer. Transient failures before the first event (throttling, 5xx, timeouts) are
   * retried with backoff inside; an error after text has been streamed is thrown, never retried.
   */
  stream(request: ModelRequest): AsyncIterable<ModelEvent>;
  /** The whole answer (built on `stream`). */
  complete(request: ModelRequest): Promise<ModelCompletion>;
}
