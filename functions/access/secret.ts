import { randomBytes } from 'node:crypto';
import { tokenSecretFile, type Config } from '../commons/config.ts';
import { loadOrCreateSecretFile } from '../commons/secret-file.ts';

/** The secret that keys token hashes: configured (AWS: a secret), or a key file made on first start. */
export async function loadTokenSecret(config: Config): Promise<Buffer> {
  const hex = config.tokenSecretHex ?? (await loadOrCreateSecretFile(tokenSecretFile(config), () => randomBytes(32).toString('hex')));
  if (!/^([0-9a-f]{2}){32,}$/.test(hex)) {
    throw new Error(`the token secret must be at least 64 hex characters (32 bytes), got ${hex.length} characters; set LOGLINEOS_TOKEN_SECRET or delete the key file`);
  }
  return Buffer.from(hex, 'hex');
}
