import type { AppSyncEvent } from '../../commons/appsync.ts';
import type { KernelOutcome } from '../../kernels/executor.ts';
import type { Manifest } from '../../kernels/manifest.ts';
import type { Span } from '../../ledger/index.ts';
import { parseAwsJson, toGraphqlSpan } from '../ledger/shape.ts';

export { toGraphqlSpan };

/** An optional AWSJSON argument: null when left out. */
export const parseJsonArgument = (field: string, value: unknown): unknown => (value === undefined || value === null ? null : parseAwsJson(field, value));

/** An app token's scopes (the authorizer's resolverContext), or null for a signed-in user. */
export function tokenScopes(event: AppSyncEvent<unknown>): string[] | null {
  const identity = event.identity;
  if (!identity || !('resolverContext' in identity)) return null;
  const scopes = identity.resolverContext.scopes;
  return typeof scopes === 'string' ? scopes.split(' ').filter(Boolean) : [];
}

export const toKernelRun = (outcome: KernelOutcome) => ({
  status: outcome.status,
  traceId: outcome.traceId,
  output: outcome.output === null ? null : JSON.stringify(outcome.output),
  error: outcome.error === null ? null : JSON.stringify(outcome.error),
  durationMs: outcome.execution?.durationMs ?? null,
  execution: outcome.execution ? toGraphqlSpan(outcome.execution) : null,
  bootEvent: outcome.bootEvent ? toGraphqlSpan(outcome.bootEvent) : null,
});

export const toGraphqlManifest = (manifest: Manifest, span: Span) => ({
  id: manifest.id,
  seq: manifest.seq,
  allowedBootIds: manifest.allowedBootIds,
  kernels: JSON.stringify(manifest.kernels),
  perTenantDailyExecLimit: manifest.perTenantDailyExecLimit,
  slowMs: manifest.slowMs,
  timeoutMs: manifest.timeoutMs,
  overridePubkeyHex: manifest.overridePubkeyHex,
  signaturesRequired: manifest.signaturesRequired,
  span: toGraphqlSpan(span),
});
