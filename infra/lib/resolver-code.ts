import { buildSync } from 'esbuild';
import { discoverResolvers, RESOLVERS_DIR, type ResolverFile } from '../../local/resolvers.ts';
import { loadSchema } from '../../local/schema.ts';

export interface DeployedResolver extends ResolverFile {
  /** The resolver bundled to one ESM file for the APPSYNC_JS runtime. */
  readonly code: string;
}

/**
 * Bundles one resolver as AppSync runs it: one ES module, `@aws-appsync/utils` left to the runtime
 * (which provides it), no minification so AppSync's errors point at readable code.
 */
export function bundleResolver(file: string): string {
  const result = buildSync({
    entryPoints: [file],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['@aws-appsync/utils'],
    sourcemap: 'inline',
    sourcesContent: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text;
  if (!code) throw new Error(`${file}: esbuild produced no output`);
  return code;
}

/**
 * Every resolver in `resolvers/`, wired from its file name (`Type.field.[dataSource].ts`) exactly as
 * the local server wires it; a file naming a type or field the schema lacks fails the synth.
 */
export function deployedResolvers(dir = RESOLVERS_DIR): DeployedResolver[] {
  return discoverResolvers(loadSchema(), dir).map((resolver) => ({ ...resolver, code: bundleResolver(resolver.file) }));
}
