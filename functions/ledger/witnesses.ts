import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CheckpointWitness } from '../../client/proofs.ts';
import type { Witness } from './checkpoints.ts';
import type { SignedCheckpoint } from './proofs.ts';

/*
 * Witnesses keep checkpoints outside the database. Each one checks what it is given before it keeps
 * it: the note's signature by the deployment key, and (file witness) that the log it describes
 * extends the last one it kept, so a ledger whose history was rewritten cannot get a checkpoint past
 * its witness.
 */

/**
 * A folder of files per log (locally `<data dir>/witness/`): `<origin>.note`, the latest checkpoint
 * kept, and `<origin>.jsonl`, one line per checkpoint kept. The checks are the client's own
 * (client/proofs.ts `CheckpointWitness`), with the proofs asked of the ledger in process.
 */
export function fileWitness(folder: string, prove: (chain: string, fromSize: number, toSize: number) => Promise<readonly string[]>): Witness {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const fileOf = (origin: string, ending: string) => join(folder, `${origin.replace(/[^A-Za-z0-9._-]+/g, '_')}.${ending}`);
  const storage = {
    load: (origin: string) => (existsSync(fileOf(origin, 'note')) ? readFileSync(fileOf(origin, 'note'), 'utf8') : undefined),
    save(origin: string, note: string) {
      appendFileSync(fileOf(origin, 'jsonl'), `${JSON.stringify({ note })}\n`, { mode: 0o600 });
      writeFileSync(fileOf(origin, 'note'), note, { mode: 0o600 });
    },
  };
  return {
    name: 'file',
    async record(checkpoint: SignedCheckpoint) {
      const witness = new CheckpointWitness({ name: checkpoint.keyName, publicKeyHex: checkpoint.publicKey }, storage);
      const before = witness.latest(checkpoint.origin);
      const verdict = await witness.accept(checkpoint.note, (from, to) => prove(checkpoint.chain, from, to));
      if (verdict.ok) return;
      throw new Error(verdict.code === 'inconsistent' && before
        ? `${checkpoint.origin}: the log at size ${checkpoint.treeSize} is not consistent with the checkpoint at size ${before.size} witnessed before: history was rewritten`
        : `${checkpoint.origin}: ${verdict.code}: ${verdict.reason}`);
    },
  };
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

