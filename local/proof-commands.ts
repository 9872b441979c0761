import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, fromGraphqlSpan, type ClientAuth } from '../client/index.ts';
import { ConsistencyProofDocument, LedgerCheckpointDocument, SpanWithProofDocument } from '../client/operations.ts';
import { CheckpointWitness, verifySpanInclusion, type ProofVerdict, type TrustedLogKey } from '../client/proofs.ts';
import type { SpanProof } from '../client/verify.ts';
import { DEFAULT_LOG_ORIGIN } from '../functions/ledger/proofs.ts';
import { signerFromSeed } from '../functions/ledger/signing.ts';

/*
 * `loglineos witness` and `loglineos verify-proof`: the client verifier from the command line. They
 * talk to the API like any app and trust nothing it says: the log's key comes from the command line
 * (or, on the machine that runs the ledger, its own key file), never from the server being checked,
 * and every checkpoint accepted is kept in a folder and must extend the one kept before.
 */

export interface ProofCommandOptions {
  readonly url: string;
  readonly auth: ClientAuth;
  readonly key: TrustedLogKey;
  /** Where the latest accepted checkpoint of each log is kept. */
  readonly dir: string;
}

/** The trusted key: given, or derived from the local deployment key file; an error saying how otherwise. */
export function trustedKey(publicKeyHex: string | undefined, keyName: string | undefined, localKeyFile: string): TrustedLogKey {
  const name = keyName ?? process.env.LOGLINEOS_LOG_ORIGIN ?? DEFAULT_LOG_ORIGIN;
  if (publicKeyHex) {
    if (!/^[0-9a-f]{64}$/i.test(publicKeyHex)) throw new Error(`--public-key must be 64 hex characters (an Ed25519 public key), got ${JSON.stringify(publicKeyHex)}`);
    return { name, publicKeyHex: publicKeyHex.toLowerCase() };
  }
  if (existsSync(localKeyFile)) return { name, publicKeyHex: signerFromSeed(readFileSync(localKeyFile, 'utf8').trim()).publicKeyHex };
  throw new Error("pass --public-key <hex>: the deployment's Ed25519 public key, obtained out of band (this command never takes it from the server it checks)");
}

/** A folder of `<origin>.note` files: the checkpoints this client accepted. */
function folderStorage(dir: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (origin: string) => join(dir, `${origin.replace(/[^A-Za-z0-9._-]+/g, '_')}.note`);
  return {
    load: (origin: string) => (existsSync(file(origin)) ? readFileSync(file(origin), 'utf8') : undefined),
    save: (origin: string, note: string) => writeFileSync(file(origin), note, { mode: 0o600 }),
  };
}

function consistencyFetcher(options: ProofCommandOptions, tenantId: string | null) {
  const client = createClient({ url: options.url, auth: options.auth });
  return async (fromSize: number, toSize: number) =>
    (await client.query(ConsistencyProofDocument, { tenantId, fromSize, toSize })).consistencyProof.hashes;
}

/** Fetches a log's latest checkpoint, checks it against the one kept, and keeps it. */
export async function witnessCommand(options: ProofCommandOptions, tenantId: string | null): Promise<{ verdict: ProofVerdict; text: string }> {
  const client = createClient({ url: options.url, auth: options.auth });
  const { ledgerCheckpoint } = await client.query(LedgerCheckpointDocument, { tenantId });
  const witness = new CheckpointWitness(options.key, folderStorage(options.dir));
  const before = witness.latest(ledgerCheckpoint.origin);
  const verdict = await witness.accept(ledgerCheckpoint.note, consistencyFetcher(options, tenantId));
  if (!verdict.ok) return { verdict, text: `FAIL  ${ledgerCheckpoint.origin}: ${verdict.code}: ${verdict.reason}` };
  const moved = before ? `from size ${before.size} ` : 'first checkpoint, ';
  return { verdict, text: `ok    ${verdict.checkpoint.origin}: ${moved}to size ${verdict.checkpoint.size}, root ${hex(verdict.checkpoint.rootHash)}, kept in ${options.dir}` };
}

/** Fetches a span and its inclusion proof; checks the span, the proof and the checkpoint against the one kept. */
export async function verifyProofCommand(options: ProofCommandOptions, spanId: string, seq: number | null): Promise<{ verdict: ProofVerdict; text: string }> {
  const client = createClient({ url: options.url, auth: options.auth });
  const { span, inclusionProof } = await client.query(SpanWithProofDocument, { spanId, seq });
  if (!span) throw new Error(`no span ${spanId} that these credentials can read`);
  const hashed = fromGraphqlSpan(span) as unknown as SpanProof;
  const verdict = verifySpanInclusion(hashed, { ...inclusionProof, checkpoint: inclusionProof.checkpoint.note }, options.key);
  const name = `span ${span.id}/${span.seq}`;
  if (!verdict.ok) return { verdict, text: `FAIL  ${name}: ${verdict.code}: ${verdict.reason}` };
  // The checkpoint that includes it must also extend what this client saw of the log before.
  const witness = new CheckpointWitness(options.key, folderStorage(options.dir));
  const seen = await witness.accept(inclusionProof.checkpoint.note, consistencyFetcher(options, span.tenantId));
  if (!seen.ok) return { verdict: seen, text: `FAIL  ${name}: its checkpoint: ${seen.code}: ${seen.reason}` };
  return { verdict, text: `ok    ${name} is leaf ${inclusionProof.leafIndex} of ${verdict.checkpoint.origin} at size ${verdict.checkpoint.size}; its hash and signature verify` };
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
