import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { tracedAwsClient } from '../commons/aws-tracing.ts';
import { LogLineError } from '../commons/errors.ts';

/** Turns text into a unit-length vector of `dimensions` numbers. */
export interface Embedder {
  readonly name: string;
  readonly dimensions: number;
  embed(text: string): Promise<number[]>;
}

export const DEFAULT_DIMENSIONS = 1536;

/**
 * An offline embedding that needs no model download: feature hashing of words (weight 1) and of the
 * character trigrams of each word (weight 0.5) into `dimensions` buckets with a hashed sign, then
 * L2-normalised. Texts sharing words or word pieces point the same way; it is deterministic, so the
 * same text always gets the same vector on every machine.
 */
export function localEmbedder(dimensions = DEFAULT_DIMENSIONS): Embedder {
  return {
    name: `local-hash-${dimensions}`,
    dimensions,
    embed: (text) => Promise.resolve(hashEmbedding(text, dimensions)),
  };
}

export function hashEmbedding(text: string, dimensions: number): number[] {
  const vector = new Float64Array(dimensions);
  const add = (feature: string, weight: number) => {
    const hash = fnv1a(feature);
    const bucket = hash % dimensions;
    vector[bucket] = (vector[bucket] ?? 0) + ((hash >>> 31) & 1 ? -weight : weight);
  };
  for (const word of text.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? []) {
    add(`w:${word}`, 1);
    const padded = `^${word}$`;
    for (let i = 0; i + 3 <= padded.length; i += 1) add(`t:${padded.slice(i, i + 3)}`, 0.5);
  }
  return normalise(Array.from(vector));
}

export function normalise(vector: readonly number[]): number[] {
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  return norm === 0 ? vector.map(() => 0) : vector.map((value) => value / norm);
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * A Bedrock embedding model through InvokeModel. Titan Text Embeddings v1 answers 1536 numbers;
 * v2 takes the size it should answer (256, 512 or 1024). A wrong-sized answer is an error, never
 * padded, so vectors of different models are never compared.
 */
export function bedrockEmbedder(options: { modelId: string; dimensions: number; client?: BedrockRuntimeClient; region?: string }): Embedder {
  const client = options.client ?? tracedAwsClient(new BedrockRuntimeClient({ ...(options.region ? { region: options.region } : {}), maxAttempts: 2 }));
  const v2 = options.modelId.includes('titan-embed-text-v2');
  return {
    name: `bedrock:${options.modelId}`,
    dimensions: options.dimensions,
    async embed(text) {
      const body = v2 ? { inputText: text, dimensions: options.dimensions, normalize: true } : { inputText: text };
      let answer: { embedding?: unknown };
      try {
        const output = await client.send(new InvokeModelCommand({ modelId: options.modelId, contentType: 'application/json', accept: 'application/json', body: JSON.stringify(body) }));
        answer = JSON.parse(new TextDecoder().decode(output.body)) as { embedding?: unknown };
      } catch (error) {
        throw new LogLineError('EmbeddingUnavailable', `the embedding model ${options.modelId} did not answer (${error instanceof Error ? error.name : 'error'}); nothing was written. Retry, or send the embedding with the request.`);
      }
      const embedding = answer.embedding;
      if (!Array.isArray(embedding) || embedding.length !== options.dimensions || !embedding.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new LogLineError('EmbeddingUnavailable', `the embedding model ${options.modelId} answered ${Array.isArray(embedding) ? `${embedding.length} numbers` : 'no embedding'}, not ${options.dimensions}; set MEMORY_EMBEDDING_DIMENSIONS to the model's size.`);
      }
      return normalise(embedding as number[]);
    },
  };
}
