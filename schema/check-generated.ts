/**
 * `npm run codegen:check`: fails when schema/generated/ is not what codegen.yml generates from the
 * schema and client/operations/ now, so a contract change cannot land without `npm run codegen`.
 *
 * Codegen runs in memory (nothing is written) and each output is compared byte for byte with the file
 * on disk. Files in an output folder that no output produces count as stale too. Git is not involved.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generate, loadCodegenConfig } from '@graphql-codegen/cli';

interface GeneratedFile {
  filename: string;
  content: string;
}

export interface StaleFile {
  /** Absolute path. */
  file: string;
  reason: 'missing' | 'differs' | 'not produced by the config';
}

/** Paths in the config are relative to `cwd`, as for `graphql-codegen`. */
export async function findStaleGeneratedFiles(configFile = 'codegen.yml', cwd = process.cwd()): Promise<StaleFile[]> {
  const { config } = await loadCodegenConfig({ configFilePath: resolve(cwd, configFile) });
  // In-memory outputs skip hooks (formatters, …), so with hooks they would differ from what is written.
  if (config.hooks || Object.values(config.generates).some((output) => typeof output === 'object' && output !== null && 'hooks' in output)) {
    throw new Error(`${configFile} declares hooks, which this check does not run; drop them or compare after running them.`);
  }
  const outputs: GeneratedFile[] = await generate({ ...config, cwd, silent: true }, false);

  const stale: StaleFile[] = [];
  const expected = new Set<string>();
  for (const output of outputs) {
    const path = resolve(cwd, output.filename);
    expected.add(path);
    const onDisk = await readFile(path, 'utf8').catch((error: unknown) => {
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
      throw error;
    });
    if (onDisk === null) stale.push({ file: path, reason: 'missing' });
    else if (onDisk !== output.content) stale.push({ file: path, reason: 'differs' });
  }
  for (const folder of new Set([...expected].map((path) => dirname(path)))) {
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isFile() && !expected.has(path)) stale.push({ file: path, reason: 'not produced by the config' });
    }
  }
  return stale;
}

async function main(): Promise<void> {
  try {
    const stale = await findStaleGeneratedFiles();
    if (stale.length === 0) {
      console.log('Generated files are up to date with codegen.yml.');
      return;
    }
    const list = stale.map(({ file, reason }) => `  ${relative(process.cwd(), file)}: ${reason}`).join('\n');
    console.error(`Generated files are stale:\n${list}\nRun \`npm run codegen\` and commit the result.`);
    process.exitCode = 1;
  } catch (error) {
    console.error('codegen:check could not run codegen from codegen.yml:', error);
    process.exitCode = 2;
  }
}

// Run as a script; imported (by the tests), only export the check.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
