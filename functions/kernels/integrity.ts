import type { Queryable } from '../commons/db/index.ts';
import { checkSpan, type Span } from '../ledger/index.ts';
import type { Manifest } from './manifest.ts';

export type IntegrityFailure = { readonly errorType: 'KernelHashMismatch' | 'KernelSignatureInvalid'; readonly reason: string };

/**
 * A kernel's stored hash must be the hash of what is stored now (code edited behind the API is
 * refused), and a signature, when present, must verify. For stage-0 the signature must also be by a
 * trusted key (the deployment's, or a registered, active device key), and is required when the
 * manifest says so.
 */
export async function checkKernelIntegrity(
  ledgerTx: (fn: (tx: Queryable) => Promise<boolean>) => Promise<boolean>,
  kernel: Span,
  manifest: Manifest,
  deploymentKey: string | undefined,
  stage0: boolean,
): Promise<IntegrityFailure | null> {
  const check = checkSpan(kernel);
  if (!check.ok && check.code === 'hash_mismatch') return { errorType: 'KernelHashMismatch', reason: check.reason ?? 'hash mismatch' };
  if (!check.ok) return { errorType: 'KernelSignatureInvalid', reason: check.reason ?? 'bad signature' };
  const signed = kernel.signature !== null && kernel.publicKey !== null;
  if (!stage0) return null;
  if (!signed) {
    return manifest.signaturesRequired ? { errorType: 'KernelSignatureInvalid', reason: 'the kernel is not signed, and the manifest requires signatures (features.signatures_required)' } : null;
  }
  if (kernel.publicKey === deploymentKey) return null;
  const registered = await ledgerTx(async (tx) => {
    const rows = await tx.query(
      "select 1 from ledger.latest_spans d where d.entity_type = 'device' and d.status = 'active' and d.content ->> 'publicKey' = $1 limit 1",
      [kernel.publicKey],
    );
    return rows.length > 0;
  });
  return registered ? null : { errorType: 'KernelSignatureInvalid', reason: `signed by ${String(kernel.publicKey)}, which is neither the deployment key nor a registered device key` };
}
