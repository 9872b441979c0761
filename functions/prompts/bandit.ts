import type { Identity } from '../commons/db/index.ts';
import { NotFoundError, ValidationError } from '../commons/errors.ts';
import { appendSpan } from '../ledger/index.ts';
import { requireCaller } from './blocks.ts';
import type { PromptContext, PromptVariant } from './types.ts';
import { variantsInSession } from './variants.ts';

export interface VariantScore {
  readonly variant: string;
  readonly variantId: string;
  readonly runs: number;
  readonly avgConfidence: number;
  readonly errorRate: number;
  readonly score: number;
}

export interface VariantSelection {
  readonly id: string;
  readonly family: string;
  readonly windowDays: number;
  readonly winner: PromptVariant;
  readonly scores: readonly VariantScore[];
}

/** SPEC §6: avg_confidence × (1 − error_rate) × 0.7 + 0.3 / max(1, runs). Few runs keep a variant worth trying. */
export function banditScore(stats: { runs: number; avgConfidence: number; errorRate: number }): number {
  return stats.avgConfidence * (1 - stats.errorRate) * 0.7 + 0.3 / Math.max(1, stats.runs);
}

/**
 * Scores every trusted variant of the family (the caller's own, their tenant's, the system's) over the
 * `prompt_run` spans of the last `windowDays` that name it by id (`parent_id`), appends the winner as
 * `prompt_variant_selection`, which runs by family then use. Runs are private to whoever ran them, so
 * they are read as the ledger role, restricted to the caller's tenant (the runs of every user of the
 * tenant, whom the selection is for), or to the caller's own runs when they have no tenant. A run
 * without a confidence counts as 0; `error` and `contract_violation` runs are errors. Ties go to the
 * newer variant.
 */
export async function selectVariant(context: PromptContext, caller: Identity | null, family: string, windowDays = 7): Promise<VariantSelection> {
  const identity = requireCaller(caller);
  if (!Number.isInteger(windowDays) || windowDays < 1 || windowDays > 365) {
    throw new ValidationError('windowDays', windowDays, 'must be a whole number of days from 1 to 365', 'Send e.g. 7 to score the last week of runs.');
  }
  const variants = await context.ledger.db.withSession(identity, (tx) => variantsInSession(tx, family));
  const stats =
    variants.length === 0
      ? []
      : await context.ledger.db.withLedger((tx) =>
          tx.query<{ variant_id: string; runs: number; avg_confidence: number; errors: number }>(
            `select r.parent_id::text as variant_id, count(*)::int as runs, avg(coalesce(r.confidence, 0))::float8 as avg_confidence,
                    (count(*) filter (where r.status in ('error', 'contract_violation')))::int as errors
             from ledger.universal_registry r
             where r.entity_type = 'prompt_run' and r.prompt_family = $1 and r.at >= now() - make_interval(days => $2::int)
               and r.parent_id = any($3::uuid[])
               and (case when $4::text is not null then r.tenant_id = $4::text else r.owner_id = $5::text and r.tenant_id is null end)
             group by r.parent_id`,
            [family, windowDays, variants.map((variant) => variant.id), identity.tenantId, identity.userId],
          ),
        );
  if (variants.length === 0) throw new NotFoundError(`prompt family ${JSON.stringify(family)} has no variant you can read`, { family });
  const byVariant = new Map(stats.map((row) => [row.variant_id, row]));
  const scores: VariantScore[] = variants.map((variant) => {
    const row = byVariant.get(variant.id);
    const runs = Number(row?.runs ?? 0);
    const avgConfidence = runs ? Number(row?.avg_confidence ?? 0) : 0;
    const errorRate = runs ? Number(row?.errors ?? 0) / runs : 0;
    return { variant: variant.name, variantId: variant.id, runs, avgConfidence, errorRate, score: banditScore({ runs, avgConfidence, errorRate }) };
  });
  // variants come newest first, so the first best score is the newest of any tie
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]!.score > scores[best]!.score) best = i;
  const winner = variants[best]!;
  const span = await appendSpan(context.ledger, identity, {
    entityType: 'prompt_variant_selection',
    who: `user:${identity.userId}`,
    did: 'selected',
    this: family,
    parentId: winner.id,
    relatedTo: variants.map((variant) => variant.id),
    variant: winner.name,
    promptFamily: family,
    content: { windowDays, scores },
    visibility: identity.tenantId ? 'tenant' : 'private',
    status: 'active',
  });
  return { id: span.id, family, windowDays, winner, scores };
}
