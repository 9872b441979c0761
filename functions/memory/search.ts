import { createHash } from 'node:crypto';
import type { Identity } from '../commons/db/index.ts';
import { toMemoryView, memoryText } from './content.ts';
import { exactCandidates, hnswCandidates, readMemories, textCandidates, type SearchFilters } from './store.ts';
import { SCOPE_SCORES, type MemoryHit, type MemoryScope, type MemoryServices, type SearchRequest } from './types.ts';
import { validateSearch } from './validate.ts';
import { requireSignedIn } from '../commons/identity.ts';

/** Reciprocal-rank fusion constant (Cormack et al. 2009): damps the weight of the very top ranks. */
export const RRF_K = 60;

/**
 * Finds the caller's memories for a query (SPEC §5), as the caller: RLS decides which memories
 * exist for them. Two ranked candidate lists, full text and vector similarity, are fused by
 * reciprocal rank, weighted by the scope cascade, deduplicated and cut to top-k:
 *
 *   relevance(d) = Σ over lists L containing d of 1 / (60 + rank_L(d)), divided by 2 / 61
 *   score(d)     = scope weight (session 1.0, own 0.8, tenant 0.6, public 0.4) × relevance(d)
 */
export async function searchMemories(services: MemoryServices, identity: Identity | null, request: SearchRequest): Promise<MemoryHit[]> {
  identity = requireSignedIn(identity, 'searching memories');
  const { memory, ledger } = services;
  const search = validateSearch(request, memory.embedder.dimensions);
  const vector = search.embedding ?? (await memory.embedder.embed(search.query));
  const filters: SearchFilters = { layers: search.layers, types: search.types, tags: search.tags, sessionId: search.sessionId };
  const pool = Math.max(50, search.topK * 5);

  const found = await ledger.db.withSession(identity, async (tx) => {
    const text = await textCandidates(tx, search.query, pool, filters);
    const near =
      memory.vectorSearch === 'hnsw' && vector.length === 1536
        ? await hnswCandidates(tx, vector, pool, Math.max(memory.efSearch, pool), filters)
        : await exactCandidates(tx, vector, pool, filters);
    const fused = new Map<string, number>();
    text.forEach((hit, index) => fused.set(hit.id, (fused.get(hit.id) ?? 0) + 1 / (RRF_K + index + 1)));
    near
      .filter((hit) => hit.similarity >= memory.minSimilarity)
      .forEach((hit, index) => fused.set(hit.id, (fused.get(hit.id) ?? 0) + 1 / (RRF_K + index + 1)));
    const rows = await readMemories(tx, [...fused.keys()]);
    return { fused, rows };
  });

  const hits: MemoryHit[] = [];
  for (const { span, salt } of found.rows) {
    const scope = scopeOf(identity, span.ownerId, span.tenantId, span.sessionId, search.sessionId);
    const relevance = (found.fused.get(span.id) ?? 0) / (2 / (RRF_K + 1));
    const view = await toMemoryView(memory.keys, span, salt, identity.userId);
    hits.push({
      spanId: span.id,
      seq: span.seq,
      score: round(SCOPE_SCORES[scope] * relevance),
      scope,
      layer: view.layer,
      type: view.type,
      sensitivity: view.sensitivity,
      tags: view.tags,
      preview: view.preview,
      content: view.content,
      sessionId: span.sessionId,
      ownerId: span.ownerId,
      at: span.at,
    });
  }
  hits.sort((a, b) => b.score - a.score || (a.at < b.at ? 1 : -1));
  return dedup(hits).slice(0, search.topK);
}

function scopeOf(identity: Identity, ownerId: string, tenantId: string | null, memorySession: string | null, requestSession: string | null): MemoryScope {
  if (ownerId === identity.userId) return requestSession !== null && memorySession === requestSession ? 'session' : 'private';
  if (tenantId !== null && tenantId === identity.tenantId) return 'tenant';
  return 'public';
}

/** One hit per content: the same text remembered twice (in a session and for the tenant) is kept once, at its best. */
function dedup(hits: readonly MemoryHit[]): MemoryHit[] {
  const seen = new Set<string>();
  return hits.filter((hit) => {
    const key = hit.content === null ? `id:${hit.spanId}` : `text:${createHash('sha256').update(memoryText(hit.content).trim().toLowerCase()).digest('hex')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const round = (value: number) => Math.round(value * 1e6) / 1e6;
