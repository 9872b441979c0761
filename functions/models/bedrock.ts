import { BedrockRuntimeClient, ConverseStreamCommand, type ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { tracedAwsClient } from '../commons/aws-tracing.ts';
import { collect } from './complete.ts';
import { backoffDelay, isTransientModelError, sleep, type RetrySettings } from './retry.ts';
import type { ModelEvent, ModelProvider, ModelRequest } from './types.ts';

export interface BedrockProviderOptions extends RetrySettings {
  /** A client to use (tests pass one mocked with aws-sdk-client-mock); by default one for `region`. */
  readonly client?: BedrockRuntimeClient;
  readonly region?: string;
  /** Told of each retry (the default logs one JSON line). */
  readonly onRetry?: (retry: { readonly attempt: number; readonly delayMs: number; readonly error: Error; readonly modelId: string }) => void;
}

/**
 * Amazon Bedrock through ConverseStream. Retries live here rather than in the SDK (its own retry is
 * switched off for clients made here) so one policy covers both a refused request and a stream that
 * fails before its first text: throttling, 5xx, a model not ready, timeouts, with exponential
 * backoff and full jitter. A failure after text has been streamed is thrown as is.
 */
export function bedrockProvider(options: BedrockProviderOptions = {}): ModelProvider {
  const client = options.client ?? tracedAwsClient(new BedrockRuntimeClient({ ...(options.region ? { region: options.region } : {}), maxAttempts: 1 }));
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const wait = options.sleep ?? sleep;
  const onRetry = options.onRetry ?? logRetry;

  async function* stream(request: ModelRequest): AsyncIterable<ModelEvent> {
    const command = new ConverseStreamCommand({
      modelId: request.modelId,
      ...(request.system ? { system: [{ text: request.system }] } : {}),
      messages: request.messages.map((message) => ({ role: message.role, content: [{ text: message.text }] })),
      inferenceConfig: {
        ...(request.maxTokens !== undefined ? { maxTokens: request.maxTokens } : {}),
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      },
    });
    for (let attempt = 1; ; attempt++) {
      let streamed = false;
      try {
        const response = await client.send(command, request.signal ? { abortSignal: request.signal } : {});
        if (!response.stream) throw new Error(`Bedrock answered ConverseStream for ${request.modelId} without a stream`);
        let stopReason = 'end_turn';
        let inputTokens = 0;
        let outputTokens = 0;
        for await (const event of response.stream) {
          const failure = streamFailure(event);
          if (failure) throw failure;
          const text = event.contentBlockDelta?.delta?.text;
          if (text) {
            streamed = true;
            yield { type: 'text', text };
          }
          if (event.messageStop?.stopReason) stopReason = event.messageStop.stopReason;
          if (event.metadata?.usage) {
            inputTokens = event.metadata.usage.inputTokens ?? inputTokens;
            outputTokens = event.metadata.usage.outputTokens ?? outputTokens;
          }
        }
        yield { type: 'end', stopReason, inputTokens, outputTokens };
        return;
      } catch (error) {
        if (streamed || attempt >= maxAttempts || request.signal?.aborted || !isTransientModelError(error)) throw error;
        const delayMs = backoffDelay(attempt - 1, options);
        onRetry({ attempt, delayMs, error: error as Error, modelId: request.modelId });
        await wait(delayMs);
      }
    }
  }

  return {
    name: 'bedrock',
    offline: false,
    stream,
    complete: (request) => collect(stream(request), request, false),
  };
}

/** ConverseStream reports some failures as stream events rather than by throwing. */
function streamFailure(event: ConverseStreamOutput): Error | undefined {
  const entries: [string, { message?: string } | undefined][] = [
    ['InternalServerException', event.internalServerException],
    ['ModelStreamErrorException', event.modelStreamErrorException],
    ['ServiceUnavailableException', event.serviceUnavailableException],
    ['ThrottlingException', event.throttlingException],
    ['ValidationException', event.validationException],
  ];
  for (const [name, value] of entries) {
    if (value) {
      const error = new Error(value.message ?? `${name} in the model stream`);
      error.name = name;
      return error;
    }
  }
  return undefined;
}

function logRetry(retry: { attempt: number; delayMs: number; error: Error; modelId: string }): void {
  console.warn(JSON.stringify({ level: 'warn', message: 'retrying a model call', modelId: retry.modelId, attempt: retry.attempt, delayMs: retry.delayMs, error: `${retry.error.name}: ${retry.error.message}` }));
}
