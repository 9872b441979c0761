import { type App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ApiStack } from './api-stack.ts';
import { ConsoleSiteStack } from './console-site.ts';
import { DataStack } from './data-stack.ts';
import type { EnvironmentSettings } from './environments.ts';
import { NetworkStack } from './network-stack.ts';
import { OperationsStack } from './operations-stack.ts';

export interface Deployment {
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly api: ApiStack;
  readonly operations: OperationsStack;
  readonly console: ConsoleSiteStack;
}

/**
 * The whole production system for one environment, one stack per concern, environment-agnostic (no
 * account or region, no lookups), checked by cdk-nag's AwsSolutions pack on every synth: a finding
 * that is not acknowledged with a reason fails the synth.
 */
export function addDeployment(app: App, settings: EnvironmentSettings): Deployment {
  const prefix = `LogLineOS-${settings.name}`;
  const network = new NetworkStack(app, `${prefix}-Network`, { settings, description: `LogLineOS ${settings.name}: VPC, endpoints, flow logs` });
  const data = new DataStack(app, `${prefix}-Data`, {
    settings,
    vpc: network.vpc,
    lambdaSecurityGroup: network.lambdaSecurityGroup,
    description: `LogLineOS ${settings.name}: ledger database, RDS Proxy, cache, secrets, migrations`,
  });
  const api = new ApiStack(app, `${prefix}-Api`, {
    settings,
    vpc: network.vpc,
    lambdaSecurityGroup: network.lambdaSecurityGroup,
    key: data.key,
    databaseSecret: data.databaseSecret,
    signingKeySecret: data.signingKeySecret,
    cacheAuthSecret: data.cacheAuthSecret,
    tokenSecret: data.tokenSecret,
    databaseEnvironment: data.databaseEnvironment,
    cacheEnvironment: data.cacheEnvironment,
    checkpoints: data.checkpoints,
    description: `LogLineOS ${settings.name}: AppSync GraphQL API, Cognito users, Lambda data sources and authorizer, WAF`,
  });
  // The API serves the ledger only once it is migrated.
  api.addStackDependency(data);
  const operations = new OperationsStack(app, `${prefix}-Operations`, {
    settings,
    api: api.api,
    functions: [...api.functions.values(), ...api.scheduled.values(), api.authorizer],
    database: data.database,
    proxy: data.proxy,
    cache: data.cache,
    ...(api.witnessFailures ? { witnessFailures: api.witnessFailures } : {}),
    description: `LogLineOS ${settings.name}: dashboard, alarms, backups`,
  });

  const consoleSite = new ConsoleSiteStack(app, `${prefix}-Console`, {
    settings,
    graphqlUrl: api.api.graphqlUrl,
    userPoolId: api.userPool.userPoolId,
    userPoolClientId: api.userPoolClient.userPoolClientId,
    description: `LogLineOS ${settings.name}: the web console, static files on S3 behind CloudFront`,
  });

  for (const stack of [network, data, api, operations, consoleSite]) {
    Tags.of(stack).add('Project', 'LogLineOS');
    Tags.of(stack).add('Environment', settings.name);
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { network, data, api, operations, console: consoleSite };
}
