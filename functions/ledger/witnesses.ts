import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { openCheckpoint } from './checkpoint-note.ts';
import type { Witness } from './checkpoints.ts';
import { verifyConsistency } from './merkle.ts';
import type { SignedCheckpoint } from './proofs.ts';

/*
 * Witnesses keep checkpoints outside the database. Each one checks what it is given before it keeps
 * it: the note's signature by the deployment key, and (file witness) that the log it describes
 * extends the last one it kept, so a ledger whose history was rewritten cannot get a checkpoint past
 * its witness.
 */

/** A file per log under a folder (locally `<data dir>/witness/`): one JSON line per checkpoint kept. */
export function fileWitness(folder: string, prove: (chain: string, fromSize: number, toSize: number) => Promise<readonly string[]>): Witness {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const fileOf = (origin: string) => join(folder, `${origin.replace(/[^A-Za-z0-9._-]+/g, '_')}.jsonl`);
  return {
    name: 'file',
    async record(checkpoint: SignedCheckpoint) {
      const opened = openCheckpoint(checkpoint.note, checkpoint.keyName, hexBytes(checkpoint.publicKey));
      const file = fileOf(opened.origin);
      const kept = lastLine(file);
      if (kept) {
        const previous = openCheckpoint(kept.note, checkpoint.keyName, hexBytes(checkpoint.publicKey));
        if (opened.size < previous.size) throw new Error(`${opened.origin}: refused a checkpoint of size ${opened.size}, older than the ${previous.size} already witnessed`);
        const proof = opened.size === previous.size ? [] : await prove(checkpoint.chain, previous.size, opened.size);
        const consistent = opened.size === previous.size
          ? equalBytes(opened.rootHash, previous.rootHash)
          : verifyConsistency(previous.size, opened.size, previous.rootHash, opened.rootHash, proof.map(hexBytes));
        if (!consistent) {
          throw new Error(`${opened.origin}: the log at size ${opened.size} is not consistent with the checkpoint at size ${previous.size} witnessed before: history was rewritten`);
        }
      }
      appendFileSync(file, `${JSON.stringify({ treeSize: opened.size, note: checkpoint.note })}\n`, { mode: 0o600 });
    },
  };
}

function lastLine(file: string): { treeSize: number; note: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const lines = text.trimEnd().split('\n').filter(Boolean);
  const last = lines[lines.length - 1];
  return last ? (JSON.parse(last) as { treeSize: number; note: string }) : undefined;
}

/**
 * Each checkpoint as an object of a bucket with Object Lock in compliance mode (infra/: retention is a
 * setting), so nobody, the account's root included, can remove or replace it before it expires.
 */
export function s3Witness(client: S3Client, bucket: string): Witness {
  return {
    name: 's3',
    async record(checkpoint: SignedCheckpoint) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `checkpoints/${checkpoint.origin}/${String(checkpoint.treeSize).padStart(16, '0')}-${checkpoint.time}.note`,
          Body: checkpoint.note,
          ContentType: 'text/plain; charset=utf-8',
          // Object Lock refuses a put without an integrity checksum.
          ChecksumAlgorithm: 'SHA256',
        }),
      );
    },
  };
}

const hexBytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);
