import type { ModelCompletion, ModelEvent, ModelRequest } from './types.ts';

/** Collects a streamed answer into one completion (what `ModelProvider.complete` returns). */
export async function collect(events: AsyncIterable<ModelEvent>, request: ModelRequest, offline: boolean): Promise<ModelCompletion> {
  let text = '';
  for await (const event of events) {
    if (event.type === 'text') text += event.text;
    else return { text, stopReason: event.stopReason, inputTokens: event.inputTokens, outputTokens: event.outputTokens, modelId: request.modelId, offline };
  }
  throw new Error(`the model stream of ${request.modelId} ended without an end event`);
}

/** A rough token count (about four characters per token) where a provider reports none. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
