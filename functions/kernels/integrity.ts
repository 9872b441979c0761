import { createHash } from 'node:crypto';
import type { Queryable } from '../commons/db/index.ts';
import { checkSpan, SEED_OWNER, type Span } from '../ledger/index.ts';
import type { Manifest } from './manifest.ts';

export type IntegrityFailure = { readonly errorType: 'KernelHashMismatch' | 'KernelSignatureInvalid'; readonly reason: string };

/**
 * A kernel's stored hash must be the hash of what is stored now (code edited behind the API is
 * refused), and a signature, when present, must verify. For stage-0 the signature must also be by a
 * key trusted for that kernel, and is required when the manifest says so:
 * - the deployment key only on the system's own spans (seeds, publishManifest). The ledger signs every
 *   span that arrives unsigned with the deployment key, so on anyone else's kernel that signature only
 *   says "the ledger wrote this": such a kernel counts as unsigned;
 * - otherwise an active device key of the kernel's owner, registered the way registerDevice does it:
 *   the device span is the owner's, named by the key's fingerprint, under an active app_registration
 *   of the same owner. A bare `device` span someone appended, or another user's device, is not trusted.
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
  if (!stage0) return null;
  const unsigned = (why: string): IntegrityFailure | null =>
    manifest.signaturesRequired ? { errorType: 'KernelSignatureInvalid', reason: `the kernel is not signed${why}, and the manifest requires signatures (features.signatures_required)` } : null;
  if (kernel.signature === null || kernel.publicKey === null) return unsigned('');
  if (deploymentKey !== undefined && kernel.publicKey === deploymentKey) {
    return kernel.ownerId === SEED_OWNER.userId ? null : unsigned(' by its owner (only the ledger signed it, as it signs every unsigned span); sign it with a registered device key');
  }
  const publicKey = kernel.publicKey;
  const registered = await ledgerTx(async (tx) => {
    const rows = await tx.query(
      `select 1 from ledger.latest_spans d
         join ledger.latest_spans a on a.id = d.parent_id and a.entity_type = 'app_registration' and a.status = 'active' and a.owner_id = d.owner_id
        where d.entity_type = 'device' and d.status = 'active' and d.content ->> 'publicKey' = $1 and d.name = $2 and d.owner_id = $3
        limit 1`,
      [publicKey, createHash('sha256').update(Buffer.from(publicKey, 'hex')).digest('hex'), kernel.ownerId],
    );
    return rows.length > 0;
  });
  return registered ? null : { errorType: 'KernelSignatureInvalid', reason: `signed by ${publicKey}, which is neither the deployment key nor an active device key registered by the kernel's owner` };
}
