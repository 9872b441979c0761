import { useEffect, useState } from 'react';
import { canonicalSpan, fromGraphqlSpan, verifySpanInclusion, verifySpanLocally, type SpanProof } from '../../client/index.ts';
import { FullSpanByIdDocument, SpanWithProofDocument, type FullSpanFragment } from '../../client/operations.ts';
import { errorText, type Connection } from './session.ts';

export interface SpanRef {
  readonly id: string;
  readonly seq?: number | null;
}

type Verdict = { readonly ok: boolean; readonly lines: readonly string[] };

/** Every column of one span, its canonical form, and a Verify button that trusts nothing the server says. */
export function SpanDetail({ connection, span: ref, onClose }: { connection: Connection; span: SpanRef; onClose: () => void }) {
  const [span, setSpan] = useState<FullSpanFragment | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [verifying, setVerifying] = useState(false);

  useEffect(() => {
    connection.client.query(FullSpanByIdDocument, { id: ref.id, seq: ref.seq ?? null }).then(
      (data) => (data.span ? setSpan(data.span) : setFailure(`span ${ref.id} is not there, or you may not read it`)),
      (error: unknown) => setFailure(errorText(error)),
    );
  }, [connection, ref.id, ref.seq]);

  async function verify() {
    if (!span) return;
    setVerifying(true);
    try {
      setVerdict(await verifyInBrowser(connection, span));
    } catch (error) {
      setVerdict({ ok: false, lines: [`could not fetch the proof: ${errorText(error)}`] });
    } finally {
      setVerifying(false);
    }
  }

  let canonical = '';
  try {
    canonical = span ? canonicalSpan(fromGraphqlSpan(span)) : '';
  } catch (error) {
    canonical = `(no canonical form: ${errorText(error)})`;
  }
  return (
    <aside className="detail" data-testid="span-detail">
      <header>
        <h2>Span {ref.id}</h2>
        <button type="button" onClick={onClose} aria-label="close">×</button>
      </header>
      {failure && <p className="error">{failure}</p>}
      {span && (
        <>
          <div className="verify">
            <button type="button" className="primary" onClick={() => void verify()} disabled={verifying} data-testid="verify">
              {verifying ? 'Verifying…' : 'Verify'}
            </button>
            {verdict && (
              <div className={verdict.ok ? 'verdict ok' : 'verdict bad'} data-testid="verdict" data-ok={String(verdict.ok)}>
                {verdict.lines.map((line) => <div key={line}>{line}</div>)}
              </div>
            )}
          </div>
          <h3>Proof</h3>
          <dl className="proof">
            <dt>curr_hash</dt><dd>{span.currHash}</dd>
            <dt>signature</dt><dd>{span.signature ?? '(unsigned)'}</dd>
            <dt>public_key</dt><dd>{span.publicKey ?? '—'}</dd>
            <dt>chain</dt><dd>{span.chainKey || '(tenantless)'} · position {span.chainSeq}</dd>
            <dt>prev_hash</dt><dd>{span.prevHash ?? '—'}</dd>
            <dt>chain_hash</dt><dd>{span.chainHash ?? '—'}</dd>
            <dt>cursor</dt><dd>{span.cursor}</dd>
          </dl>
          <h3>Canonical JSON (hashed with BLAKE3)</h3>
          <pre className="canonical" data-testid="canonical">{canonical}</pre>
          <h3>Columns</h3>
          <table className="columns">
            <tbody>
              {Object.entries(span).filter(([name]) => name !== '__typename').map(([name, value]) => (
                <tr key={name}>
                  <th>{name}</th>
                  <td>{value === null || value === undefined ? <span className="muted">null</span> : typeof value === 'object' ? JSON.stringify(value) : String(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </aside>
  );
}

/**
 * Fetches the span again with its inclusion proof and checks, here: the canonical hash, the
 * signature, and that the span is the leaf at its chain position of a checkpoint signed by the
 * trusted log key.
 */
async function verifyInBrowser(connection: Connection, shown: FullSpanFragment): Promise<Verdict> {
  const data = await connection.client.query(SpanWithProofDocument, { spanId: shown.id, seq: shown.seq });
  if (!data.span) return { ok: false, lines: ['the server no longer returns this span'] };
  let span: SpanProof;
  try {
    span = fromGraphqlSpan(data.span) as unknown as SpanProof;
  } catch (error) {
    // AWSJSON must be JSON text; a column the API sent otherwise cannot be put back into canonical form.
    return { ok: false, lines: [`not checked: the API returned a JSON column that is not JSON text (${errorText(error)}), so the canonical form cannot be rebuilt`] };
  }
  const lines: string[] = [];
  if (data.span.currHash !== shown.currHash) return { ok: false, lines: [`the server now serves curr_hash ${data.span.currHash} for this span, not ${shown.currHash}`] };
  const local = verifySpanLocally(span);
  lines.push(local.hashOk ? `hash ✓ canonical JSON hashes to ${local.computedHash}` : `hash ✗ the content hashes to ${local.computedHash}, not to its curr_hash ${shown.currHash}: the span was altered`);
  lines.push(local.signatureOk === null ? 'signature: none (unsigned span)' : local.signatureOk ? `signature ✓ Ed25519 by ${String(span.publicKey)}` : `signature ✗ does not verify with ${String(span.publicKey)}`);
  if (!local.hashOk || local.signatureOk === false) return { ok: false, lines };
  if (!connection.logKey) return { ok: false, lines: [...lines, 'inclusion: not checked, no trusted log key (give one at sign-in)'] };
  const proof = data.inclusionProof;
  const inclusion = verifySpanInclusion(span, { leafIndex: proof.leafIndex, treeSize: proof.treeSize, hashes: proof.hashes, checkpoint: proof.checkpoint.note }, connection.logKey);
  if (!inclusion.ok) return { ok: false, lines: [...lines, `inclusion ✗ ${inclusion.code}: ${inclusion.reason}`] };
  lines.push(`inclusion ✓ leaf ${proof.leafIndex} of ${inclusion.checkpoint.origin} at size ${inclusion.checkpoint.size}, checkpoint signed by ${connection.logKey.name}`);
  return { ok: true, lines };
}
