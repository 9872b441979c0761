import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { ENVIRONMENT_NAMES } from '../../infra/lib/environments.ts';
import { MIGRATIONS_DIR } from '../../infra/lib/ledger-migrations.ts';
import { resourcesOf, synthesize } from './synth.ts';

// Given every environment synthesized offline into a folder of its own (cdk-nag runs in the synth)
const outdirs = ENVIRONMENT_NAMES.map((name) => [name, mkdtempSync(join(tmpdir(), `cdk-out-${name}-`))] as const);
afterAll(() => outdirs.forEach(([, dir]) => rmSync(dir, { recursive: true, force: true })));
const synthesized = new Map(outdirs.map(([name, dir]) => [name, { outdir: dir, ...synthesize(name, dir) }]));
const synthesizedAs = (name: (typeof ENVIRONMENT_NAMES)[number]) => {
  const found = synthesized.get(name);
  if (!found) throw new Error(`${name} was not synthesized`);
  return found;
};
const LIMIT_BYTES = 1024 * 1024;

/** Every acknowledgement recorded in the construct tree: rule id → reason, with where it is. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({ path: construct.node.path, id, reason }))),
  );
}

describe.each(ENVIRONMENT_NAMES)('cdk synth -c env=%s', (name) => {
  const { app, deployment } = synthesizedAs(name);

  it('synthesizes four environment-agnostic stacks with no lookups', () => {
    // When the cloud assembly is read
    const assembly = app.synth();
    // Then there is one stack per concern, bound to no account or region, and nothing was looked up
    const stacks = [deployment.network, deployment.data, deployment.api, deployment.operations];
    expect(stacks.map((stack) => stack.stackName)).toEqual(['Network', 'Data', 'Api', 'Operations'].map((s) => `LogLineOS-${name}-${s}`));
    for (const stack of assembly.stacks) expect(stack.environment).toMatchObject({ account: 'unknown-account', region: 'unknown-region' });
    expect(assembly.manifest.missing ?? []).toEqual([]);
  });

  it('has no unacknowledged AwsSolutions error or warning', () => {
    // When the AwsSolutions pack checks the whole tree
    const report = new AwsSolutionsChecks().validateScope(app);
    // Then nothing is reported
    const findings = report.violations.map((v) => `${v.ruleName} (${v.severity}) at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  });

  it('acknowledges each finding by its exact id and with a reason', () => {
    // When the acknowledgements are collected
    const acks = acknowledgements(app).filter((ack) => ack.id.includes('AwsSolutions-'));
    // Then each has a real reason, and IAM4/IAM5 name the exact finding
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThanOrEqual(60);
      if (/AwsSolutions-IAM[45]/.test(ack.id)) expect(ack.id, ack.path).toMatch(/\[(Policy|Resource|Action)::.+\]$/);
    }
  });
});

// The Lambda bundles, as production deploys them.
const { outdir, ...production } = synthesizedAs('production');
/** Our bundles: the functions whose asset folder holds an esbuild `index.mjs`. */
const bundles = [production.data, production.api].flatMap((template) =>
  Object.values(resourcesOf(template, 'AWS::Lambda::Function')).flatMap((fn) => {
    const folder = join(outdir, String(fn.Metadata?.['aws:asset:path']));
    return existsSync(join(folder, 'index.mjs')) ? [{ name: String(fn.Metadata?.['aws:cdk:path']).split('/').slice(1, -2).join('/'), folder }] : [];
  }));

const sizeOf = (folder: string): number =>
  readdirSync(folder, { withFileTypes: true }).reduce((sum, entry) => sum + (entry.isDirectory() ? sizeOf(join(folder, entry.name)) : statSync(join(folder, entry.name)).size), 0);

describe('Lambda bundles', () => {
  it('are built for every data source, the token authorizer and the migrator, and reported (production)', () => {
    // When the bundles are measured
    const report = bundles.map(({ name, folder }) => ({ name, 'index.mjs KiB': +(statSync(join(folder, 'index.mjs')).size / 1024).toFixed(1), 'total KiB': +(sizeOf(folder) / 1024).toFixed(1) }));
    console.table(report);
    // Then the ledger's data source, the authorizer and the migrator are among them
    expect(bundles.map((bundle) => bundle.name)).toEqual(expect.arrayContaining(['LedgerHandler', 'AuthorizerHandler', 'Migrations/Migrator']));
  });

  it('are each minified and under 1 MB, migrations included (the authorizer too: it runs before every token request)', () => {
    expect(bundles.map((bundle) => bundle.name)).toContain('AuthorizerHandler');
    for (const { name, folder } of bundles) {
      expect(sizeOf(folder), name).toBeLessThan(LIMIT_BYTES);
      // Minified: a few very long lines (a readable bundle averages well under 100 characters a line).
      // Template literals are left out: esbuild keeps their line breaks (the core kernels' source is one).
      const code = readFileSync(join(folder, 'index.mjs'), 'utf8').replace(/`(?:\\[\s\S]|[^`\\])*`/g, '``');
      expect(code.length / code.split('\n').length, name).toBeGreaterThan(1000);
    }
  });

  it('carry the ledger migrations beside index.mjs, where the ledger reads them at run time', () => {
    const migrations = readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).sort();
    for (const { name, folder } of bundles) expect(readdirSync(join(folder, 'migrations')).sort(), name).toEqual(migrations);
  });

  it('import statically only what Lambda\'s Node.js runtime provides: node built-ins and the AWS SDK', () => {
    // A static import of anything else (PGlite hoisted out of a lazy module, say) fails at cold start.
    const provided = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(specifier) || specifier.startsWith('@aws-sdk/');
    for (const { name, folder } of bundles) {
      const code = readFileSync(join(folder, 'index.mjs'), 'utf8');
      const imports = [...code.matchAll(/(?:^|[;}\s])import\s*(?:[\w$*{}\s,]+?from\s*)?["']([^"']+)["']/g)].map((match) => match[1] ?? '');
      expect(imports.filter((specifier) => !provided(specifier)), name).toEqual([]);
    }
  });
});
