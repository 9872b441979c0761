import type { Identity } from '../commons/db/database.ts';
import { appendSpanInSession } from './append.ts';
import { blake3Hex, canonicalString } from './canonical.ts';
import type { Ledger } from './ledger.ts';
import { latestVersion } from './read.ts';
import type { SpanInput } from './span.ts';

/**
 * Spans a deployment puts in the ledger (the manifest, the core kernels, the example prompt
 * blocks): each has a fixed id, and `spans()` describes its current content.
 */
export interface Seed {
  readonly name: string;
  spans(): readonly (SpanInput & { readonly id: string })[];
}

/** Who seeded spans belong to: no tenant, so every tenant reads them when they are public. */
export const SEED_OWNER: Identity = { userId: 'system:loglineos', tenantId: null };

// Any constant works; concurrent openers of one database queue on it and the second finds nothing to do.
const SEED_LOCK = 7_406_531_213;

const encoder = new TextEncoder();

/** Which content a seeded version was made from; a new release with other content adds a version. */
function seedDigest(span: SpanInput): string {
  return blake3Hex(encoder.encode(canonicalString({ ...span, id: null, seq: null })));
}

/**
 * Appends each seed span whose id is missing, or whose latest version was seeded from other content
 * (a new version then, never an edit), signed by the deployment key when there is one. Idempotent.
 * Returns `name:id` for every span appended.
 */
export async function applySeeds(ledger: Ledger, seeds: readonly Seed[]): Promise<string[]> {
  if (seeds.length === 0) return [];
  return ledger.db.withSession(SEED_OWNER, async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [SEED_LOCK]);
    const appended: string[] = [];
    for (const seed of seeds) {
      for (const span of seed.spans()) {
        const digest = seedDigest(span);
        const latest = await latestVersion(tx, span.id);
        const metadata = latest?.metadata as { seed_digest?: unknown } | null | undefined;
        if (latest && metadata?.seed_digest === digest) continue;
        await appendSpanInSession(tx, SEED_OWNER, { ...span, seq: latest ? latest.seq + 1 : 0, metadata: { ...(span.metadata as object | null | undefined), seed_digest: digest } }, ledger.signer);
        appended.push(`${seed.name}:${span.id}`);
      }
    }
    return appended;
  });
}
