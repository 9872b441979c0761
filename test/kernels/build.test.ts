import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { GENERATED_FILE, generatedSource } from '../../functions/kernels/build.ts';
import { CORE_KERNELS, MANIFEST_ID } from '../../functions/kernels/ids.ts';
import { checkSpan, spanFromRow } from '../../functions/ledger/index.ts';
import { SPAN_COLUMNS_SQL } from '../../functions/ledger/span.ts';
import { openTestLedger, testSigner } from '../support/ledger.ts';

describe('core kernels from their TypeScript sources', () => {
  test('the generated module is what the sources build to now (run npm run kernels:build when this fails)', async () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(await generatedSource());
  });

  test('the seeds put the manifest and the five kernels in the ledger: fixed ids, public, tenantless, signed by the deployment', async () => {
    const ledger = await openTestLedger();
    try {
      const rows = await ledger.db.withOwner((tx) => tx.query(`select distinct on (id) ${SPAN_COLUMNS_SQL} from ledger.universal_registry r where id = any($1::uuid[]) order by id, seq desc`, [[MANIFEST_ID, ...Object.values(CORE_KERNELS)]]));
      const spans = rows.map(spanFromRow);
      expect(spans.map((span) => span.name).sort()).toEqual(['manifest', 'observer', 'policy_agent', 'provider_exec', 'request_worker', 'run_code']);
      for (const span of spans) {
        expect(span).toMatchObject({ ownerId: 'system:loglineos', tenantId: null, visibility: 'public', publicKey: testSigner.publicKeyHex });
        expect(checkSpan(span).ok).toBe(true);
      }
      const manifest = spans.find((span) => span.entityType === 'manifest');
      expect(manifest?.metadata).toMatchObject({ allowed_boot_ids: Object.values(CORE_KERNELS), features: { signatures_required: true }, throttle: { per_tenant_daily_exec_limit: 100 } });
    } finally {
      await ledger.close();
    }
  });
});
