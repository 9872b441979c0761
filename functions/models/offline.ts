import { collect, estimateTokens } from './complete.ts';
import type { ModelEvent, ModelProvider, ModelRequest } from './types.ts';

export const OFFLINE_MODEL_ID = 'offline';
export const OFFLINE_LABEL = 'Offline answer (no model was called).';
export const INSUFFICIENT_EVIDENCE = 'Insufficient evidence.';

export interface OfflineProviderOptions {
  /** Words per streamed chunk (default 3). */
  readonly wordsPerChunk?: number;
  /** A fixed reply instead of the built-in one (tests and benchmarks script the model with it). */
  readonly reply?: (request: ModelRequest) => string;
}

/**
 * A model that needs no network and always gives the same answer to the same request, so every path
 * runs on `npm start`. It answers from the sources it finds in the last user message, lines of the
 * form `[<span id>] text`: when the request asks for JSON (the system prompt mentions both "JSON"
 * and "confidence") it replies with the output contract citing those span ids, or with
 * `{"error": "Insufficient evidence."}` when there are none; otherwise with plain text. Every answer
 * starts with a label saying no model was called.
 */
export function offlineProvider(options: OfflineProviderOptions = {}): ModelProvider {
  const wordsPerChunk = Math.max(1, options.wordsPerChunk ?? 3);

  async function* stream(request: ModelRequest): AsyncIterable<ModelEvent> {
    const reply = options.reply ? options.reply(request) : offlineReply(request);
    for (const chunk of chunks(reply, wordsPerChunk)) {
      if (request.signal?.aborted) throw request.signal.reason instanceof Error ? request.signal.reason : new Error('the model call was aborted');
      yield { type: 'text', text: chunk };
    }
    const prompt = request.system + request.messages.map((message) => message.text).join('\n');
    yield { type: 'end', stopReason: 'end_turn', inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(reply) };
  }

  return {
    name: 'offline',
    offline: true,
    stream,
    complete: (request) => collect(stream(request), request, true),
  };
}

interface Source {
  readonly id: string;
  readonly text: string;
}

function offlineReply(request: ModelRequest): string {
  const last = [...request.messages].reverse().find((message) => message.role === 'user')?.text ?? '';
  const sources: Source[] = [];
  for (const line of last.split('\n')) {
    const match = /^\[([^\]\s]+)\]\s+(.+)$/.exec(line.trim());
    if (match) sources.push({ id: match[1]!, text: match[2]! });
  }
  const wantsJson = /JSON/.test(request.system) && /confidence/.test(request.system);
  const used = sources.slice(0, 3);
  const summary = used.map((source) => `${source.text.length > 160 ? `${source.text.slice(0, 157)}...` : source.text} [${source.id}]`).join(' ');
  if (!wantsJson) return used.length ? `${OFFLINE_LABEL} From the context: ${summary}` : `${OFFLINE_LABEL} No context was given.`;
  if (!used.length) return JSON.stringify({ error: INSUFFICIENT_EVIDENCE });
  return JSON.stringify({
    text: `${OFFLINE_LABEL} From the context: ${summary}`,
    confidence: 0.5,
    actions: [],
    citations: used.map((source) => source.id),
  });
}

/** Splits text into chunks of whole words, keeping every character (joined, they are the text). */
function* chunks(text: string, wordsPerChunk: number): Generator<string> {
  const words = text.match(/\s*\S+/g) ?? [];
  for (let i = 0; i < words.length; i += wordsPerChunk) yield words.slice(i, i + wordsPerChunk).join('');
  const trailing = /\s+$/.exec(text)?.[0];
  if (trailing) yield trailing;
}
