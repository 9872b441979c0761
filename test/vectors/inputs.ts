/** Inputs of the canonical-form test vectors; each exercises one rule of docs/canonical-form.md. */

/** RFC 8032 §7.1 test 1 secret key. Public, for tests only. */
export const VECTOR_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';

const core = {
  id: '6f1c2a9e-0b7d-4c55-9a1e-3d2b8c4f7a10',
  seq: 0,
  entityType: 'note',
  who: 'user:alice',
  did: 'wrote',
  this: 'a note',
  at: '2026-11-26T20:00:00.000Z',
  ownerId: 'alice',
  tenantId: 'acme',
  visibility: 'private',
  isDeleted: false,
};

const inputs: { name: string; span: Record<string, unknown> }[] = [
  { name: 'minimal span (nulls omitted)', span: { ...core, parentId: null, metadata: null } },
  {
    name: 'unicode text and keys sorted by UTF-16 code units',
    span: {
      ...core,
      this: 'naïve café — 日本語 😀 עברית',
      content: { '€': 'euro', '\r': 'cr', '1': 'one', '\u0080': 'c1', 'ö': 'o-umlaut', '😀': 'emoji', 'שּׁ': 'dalet' },
    },
  },
  {
    name: 'nested jsonb: arrays keep order, nulls inside JSON are kept',
    span: { ...core, metadata: { z: [3, 1, 2], a: { nested: { deeper: [null, true, false, { k: 'v' }] } }, empty: {}, list: [] } },
  },
  {
    name: 'JCS number edge cases',
    span: {
      ...core,
      content: { zero: 0, negZero: -0, big: 1e21, small: 1e-7, tenth: 0.1, tiny: 5e-324, max: 1.7976931348623157e308, neg: -1.5, int: 123456789012345680000, third: 333333333.3333333 },
    },
  },
  {
    name: 'string escapes',
    span: { ...core, description: 'quote " backslash \\ slash / tab \t newline \n control \u001f line-sep \u2028 </script>' },
  },
  {
    name: 'every typed column',
    span: {
      ...core,
      parentId: '00000000-0000-4000-8000-000000000001',
      relatedTo: ['00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'],
      status: 'complete',
      name: 'run_code',
      code: 'globalThis.default = async function main(ctx) { return ctx.input; }',
      language: 'javascript',
      runtime: 'sandbox-v1',
      input: { x: 1 },
      output: 'a bare JSON string',
      error: null,
      durationMs: 12,
      traceId: 'trace-1',
      layer: 'session',
      memoryType: 'note',
      sensitivity: 'internal',
      sessionId: 's-1',
      ttlSeconds: 86400,
      expiresAt: '2026-11-27T20:00:00.000Z',
      tags: ['b', 'a'],
      confidence: 0.85,
      inputTokens: 100,
      outputTokens: 20,
      priority: 120,
      scopes: ['span.write'],
      scheduledAt: '2026-11-26T20:00:00.500Z',
      attempt: 1,
    },
  },
  { name: 'tombstone, public and tenantless', span: { ...core, seq: 3, tenantId: null, visibility: 'public', isDeleted: true } },
];

/** Each vector gets its own id, so all of them can be appended to one ledger. */
export const VECTOR_INPUTS = inputs.map(({ name, span }, index) => ({
  name,
  span: { ...span, id: `6f1c2a9e-0b7d-4c55-9a1e-${String(index + 1).padStart(12, '0')}`, seq: 0 },
}));
