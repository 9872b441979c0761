import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { isObjectType, type GraphQLSchema } from 'graphql';
import * as appsyncRuntime from './appsync-runtime.ts';

export const RESOLVERS_DIR = fileURLToPath(new URL('../resolvers/', import.meta.url));

/** `Type.field.[dataSource].ts`: the file name is the whole wiring. */
const RESOLVER_FILE = /^([A-Z][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\.\[([a-z][a-z0-9_-]*)\]\.ts$/;

export interface ResolverFile {
  readonly file: string;
  readonly typeName: string;
  readonly fieldName: string;
  readonly coordinate: string;
  readonly dataSource: string;
}

export interface ResolverModule extends ResolverFile {
  request(ctx: unknown): unknown;
  response(ctx: unknown): unknown;
}

/**
 * Every resolver file, checked against the schema: a file that names a type or field the schema
 * lacks fails loudly, here and in the CDK app alike.
 */
export function discoverResolvers(schema: GraphQLSchema, dir = RESOLVERS_DIR): ResolverFile[] {
  const found: ResolverFile[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.ts')) continue;
    const match = RESOLVER_FILE.exec(file);
    if (!match) {
      throw new Error(`resolvers/${file}: a resolver file is named Type.field.[dataSource].ts (shared code goes in resolvers/lib/)`);
    }
    const [, typeName = '', fieldName = '', dataSource = ''] = match;
    const type = schema.getType(typeName);
    if (!type || !isObjectType(type)) throw new Error(`resolvers/${file}: the schema has no object type ${typeName}`);
    if (!type.getFields()[fieldName]) throw new Error(`resolvers/${file}: type ${typeName} has no field ${fieldName} in schema/schema.graphql`);
    found.push({ file: join(dir, file), typeName, fieldName, coordinate: `${typeName}.${fieldName}`, dataSource });
  }
  return found;
}

// The bundle's `@aws-appsync/utils` becomes a module that hands out this process's runtime objects.
const RUNTIME_KEY = '__loglineosAppsyncRuntime';
(globalThis as Record<string, unknown>)[RUNTIME_KEY] = appsyncRuntime;
const localRuntime: Plugin = {
  name: 'local-appsync-runtime',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^@aws-appsync\/utils$/ }, () => ({ path: 'runtime', namespace: 'appsync' }));
    pluginBuild.onLoad({ filter: /.*/, namespace: 'appsync' }, () => ({
      contents: `const r = globalThis.${RUNTIME_KEY}; export const util = r.util; export const runtime = r.runtime; export const extensions = r.extensions;`,
      loader: 'js',
    }));
  },
};

/** Bundles one resolver the way it is deployed (one ESM file) and loads it with the local runtime. */
export async function loadResolver(resolver: ResolverFile): Promise<ResolverModule> {
  const result = await build({
    entryPoints: [resolver.file],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    sourcemap: 'inline',
    plugins: [localRuntime],
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text ?? '';
  const module = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Partial<ResolverModule>;
  if (typeof module.request !== 'function' || typeof module.response !== 'function') {
    throw new Error(`${resolver.file}: a resolver exports request(ctx) and response(ctx)`);
  }
  return { ...resolver, request: module.request, response: module.response };
}

export async function loadResolvers(schema: GraphQLSchema, dir = RESOLVERS_DIR): Promise<Map<string, ResolverModule>> {
  const modules = await Promise.all(discoverResolvers(schema, dir).map(loadResolver));
  return new Map(modules.map((module) => [module.coordinate, module]));
}
