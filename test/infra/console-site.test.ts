import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt } from '../../local/console.ts';
import { resourcesOf, synthesize, type Synthesized } from './synth.ts';

/*
 * The console on AWS: the dev deployment synthesized as `cdk synth` does (cdk-nag included, so any
 * unacknowledged finding fails here), and the console site's template checked for what keeps it
 * private and served over HTTPS only.
 */

describe('the console site (S3 behind CloudFront)', () => {
  let synthesized: Synthesized;
  let site: Template;

  beforeAll(async () => {
    await ensureConsoleBuilt();
    synthesized = synthesize('dev', undefined, { bundling: false });
    site = Template.fromStack(synthesized.deployment.console);
  });

  it('keeps the files in a private, encrypted bucket that only this distribution reads, through origin access control', () => {
    site.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: Match.objectLike({}),
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'bucket/' }),
    });
    site.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }),
    });
    const policies = Object.values(resourcesOf(site, 'AWS::S3::BucketPolicy')).map((policy) => JSON.stringify(policy.Properties));
    const files = policies.find((text) => text.includes('cloudfront.amazonaws.com'));
    expect(files).toBeDefined();
    expect(files).toContain('"AWS:SourceArn"');
    expect(files).toContain('"aws:SecureTransport":"false"');
    expect(files).not.toContain('"Principal":"*","Action":"s3:GetObject"');
  });

  it('serves HTTPS only, with security headers and access logs', () => {
    site.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'console/index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https', AllowedMethods: ['GET', 'HEAD'], ResponseHeadersPolicyId: Match.anyValue() }),
        Logging: Match.objectLike({ Prefix: 'cloudfront/' }),
        Origins: [Match.objectLike({ OriginAccessControlId: Match.anyValue(), S3OriginConfig: { OriginAccessIdentity: '' } })],
      }),
    });
  });

  it('deploys the build with a config.json naming this deployment\'s AppSync URL and Cognito user pool and client', () => {
    const [deployment] = Object.values(resourcesOf(site, 'Custom::CDKBucketDeployment'));
    expect(deployment?.Properties?.DestinationBucketKeyPrefix).toBe('console/');
    // config.json's deploy-time values: the Api stack's URL, user pool and client, imported from it.
    const markers = (deployment?.Properties?.SourceMarkers as Record<string, unknown>[]).flatMap((m) => Object.values(m));
    const imports = markers.map((value) => (value as { 'Fn::ImportValue'?: string })['Fn::ImportValue']).filter((name) => name !== undefined);
    const api = synthesized.deployment.api;
    const idOf = (construct: { node: { defaultChild?: unknown } }) => api.getLogicalId(construct.node.defaultChild as CfnElement);
    expect(imports).toHaveLength(3);
    expect(imports.every((name) => name.startsWith(`${api.stackName}:ExportsOutput`))).toBe(true);
    expect(imports.some((name) => name.includes(`${idOf(api.api)}GraphQLUrl`))).toBe(true);
    expect(imports.some((name) => name.includes(`Ref${idOf(api.userPool)}`))).toBe(true);
    expect(imports.some((name) => name.includes(`Ref${idOf(api.userPoolClient)}`))).toBe(true);
    expect(JSON.stringify(site.toJSON().Outputs)).toContain('/console/');
  });
});
