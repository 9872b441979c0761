import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadOrCreateSecretFile } from '../functions/commons/secret-file.ts';
import type { Config } from '../functions/commons/config.ts';

export const apiKeyFile = (config: Config) => join(config.dataDir, 'keys', 'api-key');
export const issuerKeyFile = (config: Config) => join(config.dataDir, 'keys', 'jwt-issuer.json');

/** The local API key (AppSync's `da2-` form), created on first start with mode 0600. */
export function loadOrCreateApiKey(path: string): Promise<string> {
  return loadOrCreateSecretFile(path, () => `da2-${randomBytes(13).toString('hex')}`);
}
