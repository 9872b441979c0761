import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CfnElement, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';
import type { EnvironmentSettings } from './environments.ts';

/*
 * The web console on AWS: console/dist in a private S3 bucket, read by CloudFront only (origin
 * access control), over HTTPS, with the deployment's config.json beside the files: the AppSync URL
 * and the Cognito user pool and client the console signs users in with. The files are static; every
 * call they make goes to AppSync with the user's own token.
 */

/** Where the files live in the bucket and on the site: the console is built for /console/. */
export const CONSOLE_PATH = 'console';
/** What `npm run console:build` (and npm install's prepare) writes. */
const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist', import.meta.url));

export interface ConsoleSiteProps extends StackProps {
  readonly settings: EnvironmentSettings;
  readonly graphqlUrl: string;
  readonly userPoolId: string;
  readonly userPoolClientId: string;
}

export class ConsoleSiteStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id, props);
    if (!existsSync(`${CONSOLE_DIST}/index.html`)) {
      throw new Error(`the console is not built (${CONSOLE_DIST} has no index.html); run npm run console:build (npm install does it) before cdk synth or deploy`);
    }
    const { settings } = props;

    const logs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront's standard logs are written with an ACL.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: settings.removalPolicy,
      autoDeleteObjects: settings.removalPolicy === RemovalPolicy.DESTROY,
    });
    Validations.of(logs).acknowledge({ id: 'AwsSolutions-S1', reason: 'This is the access-log bucket of the console site; logging it into itself would loop.' });

    this.bucket = new s3.Bucket(this, 'Files', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'bucket/',
      removalPolicy: settings.removalPolicy,
      autoDeleteObjects: settings.removalPolicy === RemovalPolicy.DESTROY,
    });

    // A path ending in / is its index.html (S3 behind OAC has no index documents).
    const indexes = new cloudfront.Function(this, 'IndexDocuments', {
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(
        "function handler(event) { var r = event.request; if (r.uri.endsWith('/')) r.uri += 'index.html'; else if (r.uri === '/console') r.uri = '/console/index.html'; return r; }",
      ),
    });
    this.distribution = new cloudfront.Distribution(this, 'Site', {
      comment: `LogLineOS ${settings.name} console`,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        functionAssociations: [{ function: indexes, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      defaultRootObject: `${CONSOLE_PATH}/index.html`,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: logs,
      logFilePrefix: 'cloudfront/',
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR4',
        reason: 'The distribution uses the default *.cloudfront.net certificate, on which CloudFront negotiates TLS itself; give it a custom domain and ACM certificate to pin TLSv1.2_2021. The origin is S3 over HTTPS through origin access control.',
      },
      { id: 'AwsSolutions-CFR1', reason: 'Static files of a console that anyone may load; access is decided by Cognito and AppSync, not by country.' },
      {
        id: 'AwsSolutions-CFR2',
        reason: 'The site serves static files only; every data call goes to AppSync, which has its own WAF web ACL. A CloudFront web ACL must live in us-east-1, which an environment-agnostic app cannot assume.',
      },
    );

    // index.html and config.json change with every deploy; the hashed assets never do.
    const region = Stack.of(this).region;
    const config = {
      graphqlUrl: props.graphqlUrl,
      localIssuer: false,
      apiKey: null,
      logKey: null,
      cognito: { region, userPoolId: props.userPoolId, clientId: props.userPoolClientId },
    };
    new deploy.BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      destinationKeyPrefix: `${CONSOLE_PATH}/`,
      sources: [deploy.Source.asset(CONSOLE_DIST, { exclude: ['.build-inputs.json'] }), deploy.Source.jsonData('config.json', config)],
      distribution: this.distribution,
      distributionPaths: [`/${CONSOLE_PATH}/index.html`, `/${CONSOLE_PATH}/config.json`],
      prune: true,
      memoryLimit: 512,
    });
    // The handler is a stack-wide singleton that CDK creates outside the deployment, so the findings are
    // acknowledged on the stack, each by its exact id.
    const filesArn = `<${this.getLogicalId(this.bucket.node.defaultChild as CfnElement)}.Arn>`;
    Validations.of(this).acknowledge(
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: "CDK's BucketDeployment handler writes only its own logs with it." },
      ...['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*', 'Action::s3:DeleteObject*', 'Action::s3:Abort*', `Resource::${filesArn}/*`, 'Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*', 'Resource::*'].map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: "CDK's BucketDeployment handler: it reads the build from CDK's asset bucket, copies it into this site's bucket (pruning old files) and invalidates the distribution (CloudFront invalidations take no resource narrower than *); the grants are CDK's own.",
      })),
      { id: 'AwsSolutions-L1', reason: "CDK's BucketDeployment handler runtime is chosen and updated by aws-cdk-lib." },
    );

    const url = `https://${this.distribution.distributionDomainName}/${CONSOLE_PATH}/`;
    new CfnOutput(this, 'ConsoleUrl', { value: url, description: 'The web console (sign in with a Cognito user of the Api stack)' });
  }
}
