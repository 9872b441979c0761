import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { EnvironmentSettings } from './environments.ts';
import { ENVIRONMENT_VARIABLE } from '../../functions/commons/observability-metrics.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Left out of every bundle. The AWS SDK v3 comes with Lambda's Node.js runtime. PGlite (and its
 * pgvector add-on) is the embedded database of `npm start`; a Lambda always has a DATABASE_URL.
 * The ledger imports the PGlite module with a dynamic import, but an ESM bundle would hoist that
 * module's static import of the package to the top, so the module itself stays out of the bundle
 * too (its import is then reached only without DATABASE_URL, which never happens on Lambda).
 * `pg-native` is pg's optional native driver, never used.
 */
export const EXTERNAL_MODULES = [
  '@aws-sdk/*',
  '@electric-sql/pglite',
  '@electric-sql/pglite-pgvector',
  '*/commons/db/pglite.ts',
  'pg-native',
];

/** The Node.js the project is tested on (CI runs Node 20; engines >= 20). */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;

export interface BundledFunctionProps {
  /** Entry file, relative to the project root, exporting `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly settings: EnvironmentSettings;
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly environment: Record<string, string>;
  /** Encrypts the environment variables; the secrets the function reads are under it too. */
  readonly key: kms.IKey;
  readonly timeout?: Duration;
  /** The exported function Lambda calls (default `handler`). */
  readonly handler?: string;
  /** A fixed name, for a function that must know its own name before it exists (self-invocation). */
  readonly functionName?: string;
  readonly memoryMiB?: number;
  /** Also ship the kernel sandbox's worker (plain JS) and QuickJS's .wasm beside the bundle. */
  readonly sandbox?: boolean;
}

/** Where the sandbox finds its files in a bundle (Lambda unpacks the bundle to /var/task). */
export const SANDBOX_WORKER_FILE = 'kernel-worker.mjs';
export const SANDBOX_WASM_FILE = 'emscripten-module.wasm';

/**
 * A Node.js Lambda built from one TypeScript entry by esbuild on this machine (no Docker): arm64,
 * ESM, minified, in the VPC's private subnets, traced with X-Ray, logging to its own log group, and
 * with a dead-letter queue for asynchronous invocations. The ledger's SQL migrations, read at run
 * time from `./migrations/` beside the module, are copied next to the bundle.
 */
export class BundledFunction extends Construct {
  readonly function: NodejsFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly logGroup: logs.LogGroup;
  private readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: BundledFunctionProps) {
    super(scope, id);
    this.key = props.key;
    const entry = join(PROJECT_ROOT, props.entry);
    if (!existsSync(entry)) throw new Error(`Lambda entry ${props.entry} does not exist; create it or fix the entry path`);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.settings.logRetention,
      removalPolicy: props.settings.removalPolicy,
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      // SQS-managed keys: Lambda then needs no KMS grant (on a key in another stack) to deliver here.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the function: its messages are the failed invocations, and they have nowhere further to go.',
    });

    this.function = new NodejsFunction(this, 'Function', {
      entry,
      handler: props.handler ?? 'handler',
      ...(props.functionName ? { functionName: props.functionName } : {}),
      description: props.description,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMiB ?? props.settings.lambda.memoryMiB,
      timeout: props.timeout ?? Duration.seconds(props.settings.lambda.timeoutSeconds),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: 'lambda' },
      securityGroups: [props.securityGroup],
      environment: {
        ...props.environment,
        // The `environment` dimension of the EMF metrics, which the Operations dashboard and alarms read.
        [ENVIRONMENT_VARIABLE]: props.settings.name,
        ...(props.sandbox ? { LOGLINEOS_SANDBOX_WORKER: `/var/task/${SANDBOX_WORKER_FILE}`, LOGLINEOS_SANDBOX_WASM: `/var/task/${SANDBOX_WASM_FILE}` } : {}),
      },
      environmentEncryption: props.key,
      deadLetterQueue: this.deadLetterQueue,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        platform: 'node',
        minify: true,
        sourceMap: false,
        mainFields: ['module', 'main'],
        logLevel: LogLevel.WARNING,
        externalModules: EXTERNAL_MODULES,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => [
            `mkdir -p "${outputDir}/migrations"`,
            `cp "${inputDir}"/functions/ledger/migrations/*.sql "${outputDir}/migrations/"`,
            // Kernels run in worker threads: the worker is its own script, and QuickJS loads its .wasm.
            ...(props.sandbox
              ? [
                  `"${inputDir}/node_modules/.bin/esbuild" "${inputDir}/functions/kernels/sandbox/kernel-worker.ts" --bundle --platform=node --format=esm --target=node22 --minify --log-level=warning --outfile="${outputDir}/${SANDBOX_WORKER_FILE}"`,
                  `cp "${inputDir}/node_modules/@jitl/quickjs-wasmfile-release-sync/dist/${SANDBOX_WASM_FILE}" "${outputDir}/${SANDBOX_WASM_FILE}"`,
                ]
              : []),
          ],
        },
      },
    });
    Validations.of(this.function).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'AWS-maintained policy that only lets the function write its own logs (CreateLogStream/PutLogEvents); Lambda documents it as the minimum for any function.',
      },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'AWS-maintained policy for functions in a VPC: the EC2 network-interface actions Lambda needs to attach the function to its subnets, which support no resource-level permissions.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'Active X-Ray tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions (X-Ray service authorization reference).',
      },
      {
        id: 'AwsSolutions-L1',
        reason: 'The runtime follows the Node.js the project is built and tested on (Node 20 in CI, code for Node 20/22); it moves to Node 24 together with CI, not ahead of the tests.',
      },
    );
  }

  /**
   * Lets the function read secrets encrypted with the data key. Granted on the function's role only
   * (the key's policy delegates to IAM), so a stack of functions never writes into the data stack.
   */
  allowSecretRead(...secrets: secretsmanager.ISecret[]): void {
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      resources: secrets.map((secret) => secret.secretArn),
    }));
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [this.key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
    }));
  }
}
