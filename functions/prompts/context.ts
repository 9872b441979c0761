import type { Identity } from '../commons/db/index.ts';
import { estimateTokens } from '../models/index.ts';
import type { ContextPiece } from './types.ts';

/** What a run needs of a memory hit (the memory domain's MemoryHit has more). */
export interface MemoryHitLike {
  readonly spanId: string;
  readonly score: number;
  readonly preview?: string | null;
  readonly content: unknown;
  /** Memory's sensitivity: `secret` and `pii` hits are left out unless the run opts in. */
  readonly sensitivity?: string | null;
}

const SENSITIVE = new Set(['secret', 'pii']);
export const isSensitiveHit = (hit: MemoryHitLike): boolean => typeof hit.sensitivity === 'string' && SENSITIVE.has(hit.sensitivity);

/** A memory search as the caller: only what they may read comes back. */
export type MemorySearch = (identity: Identity, query: { readonly query: string; readonly topK: number; readonly sessionId: string | null }) => Promise<readonly MemoryHitLike[]>;

/** Below this many tokens left, a piece is dropped rather than cut. */
const MIN_PIECE_TOKENS = 16;

/** A hit's text; none when the caller may not read its content in clear (its preview is not evidence). */
function textOf(hit: MemoryHitLike): string {
  if (typeof hit.content === 'string') return hit.content;
  if (hit.content === null || hit.content === undefined) return '';
  const text = (hit.content as { text?: unknown }).text;
  return typeof text === 'string' ? text : JSON.stringify(hit.content);
}

/**
 * The context a run may send, best first, within `budget` tokens: whole pieces while they fit, then
 * the next one cut to what is left; pieces without text are skipped. Line breaks inside a piece are
 * flattened so each piece stays one `[span id] text` line.
 */
export function fitContext(pieces: readonly ContextPiece[], budget: number): ContextPiece[] {
  const kept: ContextPiece[] = [];
  let left = budget;
  for (const piece of pieces) {
    const text = piece.text.replace(/\s+/g, ' ').trim();
    if (text === '') continue;
    const cost = estimateTokens(`[${piece.spanId}] ${text}`);
    if (cost <= left) {
      kept.push({ ...piece, text });
      left -= cost;
      continue;
    }
    const room = left - estimateTokens(`[${piece.spanId}] ...`);
    if (room >= MIN_PIECE_TOKENS) kept.push({ ...piece, text: `${text.slice(0, room * 4)}...` });
    break;
  }
  return kept;
}

/**
 * The memory context of a run: a search for the user input as the caller, fitted to the budget.
 * Secret and pii hits are dropped unless `includeSensitive`: whatever is context can be quoted in the
 * answer, which the `prompt_run` span and the run's events keep in clear.
 */
export async function memoryContext(
  search: MemorySearch | undefined,
  identity: Identity,
  query: string,
  options: { topK: number; sessionId: string | null; budget: number; includeSensitive?: boolean },
): Promise<ContextPiece[]> {
  if (!search) return [];
  const hits = await search(identity, { query, topK: options.topK, sessionId: options.sessionId });
  const allowed = options.includeSensitive ? hits : hits.filter((hit) => !isSensitiveHit(hit));
  return fitContext(allowed.map((hit) => ({ spanId: hit.spanId, text: textOf(hit), score: hit.score, ...(isSensitiveHit(hit) ? { sensitive: true } : {}) })), options.budget);
}

/** The user message: the context as `[span id] text` lines, then the question. */
export function userMessage(context: readonly ContextPiece[], userInput: string): string {
  if (context.length === 0) return `Context: none.\n\nQuestion: ${userInput}`;
  return `Context:\n${context.map((piece) => `[${piece.spanId}] ${piece.text}`).join('\n')}\n\nQuestion: ${userInput}`;
}
