import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Config } from '../functions/commons/config.ts';

export const apiKeyFile = (config: Config) => join(config.dataDir, 'keys', 'api-key');
export const issuerKeyFile = (config: Config) => join(config.dataDir, 'keys', 'jwt-issuer.json');

/** The local API key (AppSync's `da2-` form), created on first start with mode 0600. */
export async function loadOrCreateApiKey(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = `da2-${randomBytes(13).toString('hex')}`;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(path, 'utf8')).trim();
    throw error;
  }
  await chmod(path, 0o600);
  return key;
}
