/** A span like the ones the ledger holds: a few identity fields, metadata and a short content. */
export function sampleSpan(i: number, tenant: string): Record<string, unknown> {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    seq: 0,
    entityType: 'execution',
    who: 'kernel:run_code',
    did: 'executed',
    this: `function ${i % 97}`,
    at: new Date(1_764_000_000_000 + i).toISOString(),
    ownerId: `user-${i % 13}`,
    tenantId: tenant,
    visibility: 'tenant',
    isDeleted: false,
    status: 'complete',
    traceId: `trace-${i}`,
    durationMs: i % 250,
    output: { ok: true, value: i, items: ['alpha', 'beta', 'gamma'] },
    metadata: { source: 'bench', attempt: 1, labels: { region: 'local', tier: 'standard' } },
  };
}

/** The same, as an append input (the ledger fills owner, tenant and defaults). */
export function sampleInput(i: number): Record<string, unknown> {
  const { id: _id, seq: _seq, ownerId: _owner, tenantId: _tenant, at: _at, isDeleted: _deleted, ...input } = sampleSpan(i, '');
  return input;
}
