import { Ajv } from 'ajv';
import { INSUFFICIENT_EVIDENCE } from '../models/index.ts';

/** The answer every prompt run asks the model for (SPEC §6). */
export interface PromptAnswer {
  readonly text: string;
  readonly confidence: number;
  readonly follow_up_question?: string;
  readonly actions: readonly { readonly type: string; readonly [key: string]: unknown }[];
  readonly citations: readonly string[];
}

export const ANSWER_SCHEMA = {
  type: 'object',
  required: ['text', 'confidence', 'actions', 'citations'],
  additionalProperties: false,
  properties: {
    text: { type: 'string', minLength: 1 },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    follow_up_question: { type: 'string', minLength: 1 },
    actions: { type: 'array', maxItems: 20, items: { type: 'object', required: ['type'], properties: { type: { type: 'string', minLength: 1 } } } },
    citations: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1 } },
  },
} as const;

const INSUFFICIENT_SCHEMA = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: { error: { const: INSUFFICIENT_EVIDENCE } },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validAnswer = ajv.compile<PromptAnswer>(ANSWER_SCHEMA);
const validInsufficient = ajv.compile<{ error: string }>(INSUFFICIENT_SCHEMA);

/** Appended to every run's system prompt (not part of the compiled hash, which covers the blocks). */
export const CONTRACT_VERSION = 'answer-v1';
export const CONTRACT_INSTRUCTIONS = [
  'Answer in JSON only: one object, no text before or after it, no code fence.',
  'Shape: {"text": string, "confidence": number from 0 to 1, "follow_up_question": string (only when the question is ambiguous), "actions": [{"type": string, ...}], "citations": [ids of the context entries you used]}.',
  'Cite only ids that appear in square brackets in the context. Use nothing but the context and these instructions as evidence.',
  `If the context does not support an answer, reply exactly {"error": "${INSUFFICIENT_EVIDENCE}"}.`,
].join('\n');

export type ReplyOutcome =
  | { readonly status: 'complete'; readonly answer: PromptAnswer }
  | { readonly status: 'insufficient_evidence' }
  | { readonly status: 'contract_violation'; readonly problems: readonly string[] };

/**
 * Reads the model's reply against the contract. Tolerates a code fence around the JSON (models add
 * them), nothing else: a reply that is not the contract is a `contract_violation` with the reasons.
 * Citations must name context entries the run gave the model.
 */
export function readReply(reply: string, contextIds: ReadonlySet<string>): ReplyOutcome {
  const trimmed = reply.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/, '$1');
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    if (trimmed === INSUFFICIENT_EVIDENCE) return { status: 'insufficient_evidence' };
    return { status: 'contract_violation', problems: ['the reply is not JSON'] };
  }
  if (validInsufficient(parsed)) return { status: 'insufficient_evidence' };
  if (!validAnswer(parsed)) {
    return { status: 'contract_violation', problems: (validAnswer.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`) };
  }
  const unknown = parsed.citations.filter((id) => !contextIds.has(id));
  if (unknown.length > 0) return { status: 'contract_violation', problems: [`citations name spans that were not in the context: ${unknown.slice(0, 5).join(', ')}`] };
  return { status: 'complete', answer: parsed };
}
