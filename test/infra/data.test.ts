import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { migrationsChecksum, MIGRATIONS_RESOURCE_TYPE } from '../../infra/lib/ledger-migrations.ts';
import { VPC_CIDR } from '../../infra/lib/network-stack.ts';
import { resourcesOf, synthesize } from './synth.ts';

// Given production and dev, each synthesized once for this file
const production = synthesize('production');
const dev = synthesize('dev');
const templates = (s: typeof production) => [s.network, s.data, s.api, s.operations];

describe('network', () => {
  it('spans three AZs in production and two in dev, with public, Lambda and isolated data subnets', () => {
    // When the subnets are counted by kind
    const kinds = (s: typeof production) => Object.values(resourcesOf(s.network, 'AWS::EC2::Subnet')).map((subnet) =>
      ((subnet.Properties?.Tags ?? []) as { Key: string; Value: string }[]).find((tag) => tag.Key === 'aws-cdk:subnet-name')?.Value);
    // Then each kind has one subnet per AZ
    expect(kinds(production).sort()).toEqual(['data', 'data', 'data', 'lambda', 'lambda', 'lambda', 'public', 'public', 'public']);
    expect(kinds(dev).sort()).toEqual(['data', 'data', 'lambda', 'lambda', 'public', 'public']);
  });

  it('gives the isolated data subnets no route out', () => {
    // When the routes are listed by the route table they belong to
    const routeTables = Object.values(resourcesOf(production.network, 'AWS::EC2::Route')).map((route) => JSON.stringify(route.Properties?.RouteTableId));
    // Then none is a data subnet's
    expect(routeTables.length).toBeGreaterThan(0);
    for (const table of routeTables) expect(table).not.toMatch(/dataSubnet/);
  });

  it('has interface endpoints for what the Lambdas call, and flow logs of all traffic', () => {
    // When the endpoints and flow logs are read
    const services = Object.values(resourcesOf(production.network, 'AWS::EC2::VPCEndpoint')).map((endpoint) => JSON.stringify(endpoint.Properties?.ServiceName));
    // Then Secrets Manager, KMS, Bedrock runtime, CloudWatch Logs and X-Ray are reachable privately
    for (const service of ['secretsmanager', 'kms', 'bedrock-runtime', 'logs', 'xray']) {
      expect(services.some((name) => name.includes(`.${service}"`)), service).toBe(true);
    }
    production.network.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL' });
  });

  it('admits no traffic from anywhere: every ingress names a security group or the VPC range', () => {
    for (const template of [...templates(production), ...templates(dev)]) {
      // When every ingress rule, inline or separate, is collected
      const inline = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroup')).flatMap((group) => (group.Properties?.SecurityGroupIngress ?? []) as Record<string, unknown>[]);
      const separate = Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress')).map((rule) => rule.Properties ?? {});
      // Then none is open to the internet
      for (const rule of [...inline, ...separate]) {
        expect(rule.CidrIp === undefined || rule.CidrIp === VPC_CIDR, JSON.stringify(rule)).toBe(true);
        expect(rule.CidrIpv6).toBeUndefined();
      }
    }
  });
});

describe('ledger database', () => {
  it('is PostgreSQL 16 on encrypted gp3 with 30-day backups, logs and Performance Insights, never public', () => {
    for (const { data } of [production, dev]) {
      data.hasResourceProperties('AWS::RDS::DBInstance', {
        Engine: 'postgres',
        EngineVersion: Match.stringLikeRegexp('^16'),
        StorageType: 'gp3',
        StorageEncrypted: true,
        KmsKeyId: Match.anyValue(),
        BackupRetentionPeriod: 30,
        PubliclyAccessible: false,
        EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
        EnablePerformanceInsights: true,
      });
      data.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    }
  });

  it('is Multi-AZ with deletion protection on db.r6g.xlarge in production only', () => {
    production.data.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: true, DeletionProtection: true, DBInstanceClass: 'db.r6g.xlarge' });
    dev.data.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: false, DeletionProtection: false, DBInstanceClass: 'db.t4g.medium' });
  });

  it('has the guide\'s parameters, with memory formulas in PostgreSQL\'s 8 kB pages, and TLS required', () => {
    production.data.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'postgres16',
      Parameters: {
        shared_buffers: '{DBInstanceClassMemory/32768}',
        effective_cache_size: '{DBInstanceClassMemory*3/32768}',
        max_connections: '200',
        work_mem: '16384',
        'rds.force_ssl': '1',
      },
    });
  });

  it('is reached through an RDS Proxy that requires TLS and does not pin on SET, with a rotating secret', () => {
    production.data.hasResourceProperties('AWS::RDS::DBProxy', { EngineFamily: 'POSTGRESQL', RequireTLS: true });
    production.data.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({ SessionPinningFilters: ['EXCLUDE_VARIABLE_SETS'] }),
    });
    production.data.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(30 days)' } });
    for (const secret of Object.values(resourcesOf(production.data, 'AWS::SecretsManager::Secret'))) expect(secret.Properties?.KmsKeyId).toBeDefined();
  });

  it('runs the migrations on deploy through a custom resource that changes when a migration does', () => {
    // When the migrations resource is found
    const resources = resourcesOf(production.data, MIGRATIONS_RESOURCE_TYPE);
    const [[, resource] = []] = Object.entries(resources);
    // Then it is served by the provider of the migrator, after the database and its proxy exist
    expect(Object.keys(resources)).toHaveLength(1);
    expect(resource?.Properties?.MigrationsChecksum).toBe(migrationsChecksum());
    expect(JSON.stringify(resource?.Properties?.ServiceToken)).toMatch(/MigrationsProviderframeworkonEvent/);
    const database = Object.keys(resourcesOf(production.data, 'AWS::RDS::DBInstance'))[0];
    const proxyTargets = Object.keys(resourcesOf(production.data, 'AWS::RDS::DBProxyTargetGroup'))[0];
    expect(resource?.DependsOn).toEqual(expect.arrayContaining([database, proxyTargets]));
    production.data.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('migrations'),
      Environment: { Variables: Match.objectLike({ DATABASE_SECRET_ARN: Match.anyValue(), DATABASE_HOST: Match.anyValue(), DATABASE_PORT: '5432', LOGLINEOS_SIGNING: 'off' }) },
    });
  });
});

describe('secrets', () => {
  // Secrets Manager's generator draws from lower-case letters, upper-case letters, digits and
  // punctuation (and a space if asked); these are its flags' character classes.
  const LOWER = 'abcdefghijklmnopqrstuvwxyz';
  const alphabetOf = (generator: Record<string, unknown>): string =>
    [
      generator.ExcludeLowercase ? '' : LOWER,
      generator.ExcludeUppercase ? '' : LOWER.toUpperCase(),
      generator.ExcludeNumbers ? '' : '0123456789',
      generator.ExcludePunctuation ? '' : '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
      generator.IncludeSpace ? ' ' : '',
    ].join('').split('').filter((char) => !String(generator.ExcludeCharacters ?? '').includes(char)).sort().join('');

  it('generates the signing seed and the token secret as 64 lower-case hex characters (256 bits)', () => {
    for (const { data } of [production, dev]) {
      // When the two hex secrets' generators are read
      const secrets = resourcesOf(data, 'AWS::SecretsManager::Secret');
      const generators = Object.entries(secrets).filter(([id]) => /^(SigningKey|TokenSecret)/.test(id)).map(([, secret]) => secret.Properties?.GenerateSecretString as Record<string, unknown>);
      // Then each draws 64 characters from exactly 0-9a-f, which the functions accept as a 32-byte key
      expect(generators).toHaveLength(2);
      for (const generator of generators) {
        expect(generator.PasswordLength).toBe(64);
        expect(alphabetOf(generator)).toBe('0123456789abcdef');
        expect(generator.RequireEachIncludedType).toBe(false);
      }
    }
  });

  it('encrypts the token secret with the data key and keeps it on teardown in production', () => {
    // When the token secret is found
    const [[, secret] = []] = Object.entries(resourcesOf(production.data, 'AWS::SecretsManager::Secret')).filter(([id]) => id.startsWith('TokenSecret'));
    // Then it is under the data key and retained; dev's is disposable
    expect(secret?.Properties?.KmsKeyId).toEqual({ 'Fn::GetAtt': [Object.keys(resourcesOf(production.data, 'AWS::KMS::Key'))[0], 'Arn'] });
    expect((secret as { DeletionPolicy?: string } | undefined)?.DeletionPolicy).toBe('Retain');
    dev.data.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ Description: Match.stringLikeRegexp('API token') }) });
  });
});

describe('cache', () => {
  it('is Valkey with TLS, AUTH and at-rest encryption under the data key, evicting least recently used keys', () => {
    for (const { data } of [production, dev]) {
      data.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        Engine: 'valkey',
        TransitEncryptionEnabled: true,
        AtRestEncryptionEnabled: true,
        KmsKeyId: Match.anyValue(),
        AuthToken: Match.anyValue(),
      });
      data.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { Properties: Match.objectLike({ 'maxmemory-policy': 'allkeys-lru' }) });
    }
  });

  it('fails over across AZs on two cache.r6g.large nodes in production', () => {
    production.data.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      CacheNodeType: 'cache.r6g.large', NumCacheClusters: 2, AutomaticFailoverEnabled: true, MultiAZEnabled: true,
    });
    dev.data.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { NumCacheClusters: 1, MultiAZEnabled: false });
  });
});
