import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_NAMES } from '../../infra/lib/environments.ts';
import { synthesize } from './synth.ts';

/** Every acknowledgement recorded in the construct tree: rule id → reason, with where it is. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({ path: construct.node.path, id, reason }))),
  );
}

describe.each(ENVIRONMENT_NAMES)('cdk synth -c env=%s', (name) => {
  // Given the app of one environment, synthesized offline (cdk-nag runs as part of synth)
  const synthesized = synthesize(name);
  const { app, deployment } = synthesized;

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
