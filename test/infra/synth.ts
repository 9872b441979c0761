import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { addDeployment, type Deployment } from '../../infra/lib/deployment.ts';
import { environmentSettings, type EnvironmentName } from '../../infra/lib/environments.ts';

export interface Synthesized {
  readonly app: App;
  readonly deployment: Deployment;
  readonly network: Template;
  readonly data: Template;
  readonly api: Template;
  readonly operations: Template;
}

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };

/**
 * The app exactly as `npx cdk synth -c env=<name>` builds it (cdk.json's context, the cdk-nag
 * plugin), synthesized once; the templates of its four stacks. `bundling: false` skips building the
 * Lambda bundles (as `cdk synth --exclusively` does for other stacks), for tests of the templates alone.
 */
export function synthesize(name: EnvironmentName, outdir?: string, options: { readonly bundling?: boolean } = {}): Synthesized {
  // Path and asset metadata on, as the CDK CLI sets them.
  const context = {
    ...cdkJson.context,
    env: name,
    'aws:cdk:enable-path-metadata': true,
    'aws:cdk:enable-asset-metadata': true,
    ...(options.bundling === false ? { [cxapi.BUNDLING_STACKS]: [] } : {}),
  };
  const app = new App({ context, ...(outdir ? { outdir } : {}) });
  const deployment = addDeployment(app, environmentSettings(name));
  app.synth();
  return {
    app,
    deployment,
    network: Template.fromStack(deployment.network),
    data: Template.fromStack(deployment.data),
    api: Template.fromStack(deployment.api),
    operations: Template.fromStack(deployment.operations),
  };
}

export type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[]; Metadata?: Record<string, unknown> }>;

export const resourcesOf = (template: Template, type: string): Resources => template.findResources(type) as Resources;
