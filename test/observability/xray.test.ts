import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';

/*
 * X-Ray as a Lambda container runs it: the trace header in _X_AMZN_TRACE_ID, a UDP "daemon" (here a
 * socket of the test) receiving the subsegments, and KMS, Bedrock and Secrets Manager answered by a local
 * HTTP server the SDK is pointed at through its standard AWS_ENDPOINT_URL_<SERVICE> variables. The
 * clients are the ones the product code builds, so an SDK client left unwrapped shows as a missing
 * subsegment.
 */

interface XRayDocument {
  id: string;
  name: string;
  namespace?: string;
  trace_id?: string;
  parent_id?: string;
  aws?: { operation?: string };
  http?: { response?: { status?: number } };
}

const TRACE_ID = '1-67891233-abcdef012345678912345678';
const PARENT_ID = '53995c3f42cd8ad8';
let daemon: Socket;
let aws: Server;
/** Bedrock Runtime's client speaks HTTP/2 only (for its bidirectional streams). */
let bedrockRuntime: Http2Server;
const documents: XRayDocument[] = [];
const awsCalls: string[] = [];

beforeAll(async () => {
  daemon = createSocket('udp4');
  daemon.on('message', (message) => {
    // Each datagram: the daemon header line, then one segment or subsegment document.
    const [, body] = message.toString('utf8').split('\n');
    if (body) documents.push(JSON.parse(body) as XRayDocument);
  });
  daemon.bind(0, '127.0.0.1');
  await once(daemon, 'listening');

  bedrockRuntime = createHttp2Server((request, response) => {
    awsCalls.push(`${request.method} ${request.url}`);
    request.resume();
    request.on('end', () => {
      const body = { embedding: Array.from({ length: 256 }, (_, i) => (i % 7) / 7), inputTextTokenCount: 3 };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  bedrockRuntime.listen(0, '127.0.0.1');
  await once(bedrockRuntime, 'listening');

  aws = createServer((request, response) => {
    const target = String(request.headers['x-amz-target'] ?? '');
    awsCalls.push(target);
    request.resume();
    request.on('end', () => {
      const body = target === 'TrentService.GenerateDataKey'
        ? { KeyId: 'arn:aws:kms:eu-west-1:123456789012:key/test', Plaintext: Buffer.alloc(32, 7).toString('base64'), CiphertextBlob: Buffer.from('wrapped').toString('base64') }
        : { ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db', Name: 'db', SecretString: '{"username":"loglineos_app","password":"p"}' };
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
    });
  });
  aws.listen(0, '127.0.0.1');
  await once(aws, 'listening');
  const endpoint = `http://127.0.0.1:${(aws.address() as AddressInfo).port}`;

  const env = {
    AWS_LAMBDA_FUNCTION_NAME: 'LogLineOS-test-xray',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
    LAMBDA_TASK_ROOT: '/var/task',
    _X_AMZN_TRACE_ID: `Root=${TRACE_ID};Parent=${PARENT_ID};Sampled=1`,
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${(daemon.address() as AddressInfo).port}`,
    AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    AWS_XRAY_DEBUG_MODE: '',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    AWS_ENDPOINT_URL_KMS: endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: `http://127.0.0.1:${(bedrockRuntime.address() as AddressInfo).port}`,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  vi.resetModules();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  daemon.close();
  aws.close();
  bedrockRuntime.close();
});

/** The subsegments the daemon received for one AWS operation, once the UDP datagrams are in. */
async function subsegmentsOf(operation: string): Promise<XRayDocument[]> {
  await vi.waitFor(() => expect(documents.some((document) => document.aws?.operation === operation)).toBe(true), { timeout: 5_000 });
  return documents.filter((document) => document.aws?.operation === operation);
}

describe('AWS SDK calls on Lambda', () => {
  test('KMS calls of the memory key wrapper, Bedrock calls of the embedder and Secrets Manager calls of a client built before the first invocation are X-Ray subsegments of the invocation', async () => {
    // given: the modules as a Lambda loads them, and a client built at module scope, before any invocation
    const { tracedAwsClient } = await import('../../functions/commons/aws-tracing.ts');
    const { observedHandler } = await import('../../functions/commons/observability.ts');
    const { kmsKeyWrapper } = await import('../../functions/memory/keys.ts');
    const { bedrockEmbedder } = await import('../../functions/memory/embedding.ts');
    const early = tracedAwsClient(new SecretsManagerClient({}));
    const handler = observedHandler('xray-test', async () => {
      const key = await kmsKeyWrapper('alias/loglineos-memory').generate('acme');
      const vector = await bedrockEmbedder({ modelId: 'amazon.titan-embed-text-v2:0', dimensions: 256 }).embed('hello');
      const secret = await early.send(new GetSecretValueCommand({ SecretId: 'db' }));
      return { keyBytes: key.plaintext.length, dimensions: vector.length, secret: secret.SecretString };
    });
    // when: one invocation makes the three calls
    const result = await handler({});
    // then: each call reached AWS (here, the local endpoint) and was answered
    expect(result).toEqual({ keyBytes: 32, dimensions: 256, secret: '{"username":"loglineos_app","password":"p"}' });
    expect(awsCalls).toEqual(['TrentService.GenerateDataKey', 'POST /model/amazon.titan-embed-text-v2%3A0/invoke', 'secretsmanager.GetSecretValue']);
    // and: each is one subsegment named for its service, status 200, under the invocation's own subsegment in Lambda's trace
    await vi.waitFor(() => expect(documents.some((document) => document.name === '## xray-test')).toBe(true), { timeout: 5_000 });
    const invocation = documents.filter((document) => document.name === '## xray-test');
    expect(invocation).toMatchObject([{ trace_id: TRACE_ID, parent_id: PARENT_ID }]);
    const kms = await subsegmentsOf('GenerateDataKey');
    const secrets = await subsegmentsOf('GetSecretValue');
    const bedrock = await subsegmentsOf('InvokeModel');
    expect(kms).toMatchObject([{ name: 'KMS', namespace: 'aws', trace_id: TRACE_ID, parent_id: invocation[0]?.id, http: { response: { status: 200 } } }]);
    expect(bedrock).toMatchObject([{ name: 'BedrockRuntime', namespace: 'aws', trace_id: TRACE_ID, parent_id: invocation[0]?.id, http: { response: { status: 200 } } }]);
    expect(secrets).toMatchObject([{ name: 'SecretsManager', namespace: 'aws', trace_id: TRACE_ID, parent_id: invocation[0]?.id, http: { response: { status: 200 } } }]);
  });
});

describe('the AWS SDK clients of functions/', () => {
  test('are each built through tracedAwsClient, so none of their calls is missing from a trace', async () => {
    // given: every TypeScript source of the Lambdas
    const files = (await readdir('functions', { recursive: true })).filter((file) => file.endsWith('.ts'));
    // when: each `new <Something>Client(` of an @aws-sdk package is looked at
    const built: string[] = [];
    const untraced: string[] = [];
    for (const file of files) {
      const source = await readFile(`functions/${file}`, 'utf8');
      const sdkClients = [...source.matchAll(/import \{([^}]*)\} from '@aws-sdk\/client-[a-z-]+'/g)].flatMap((match) => (match[1] ?? '').split(',').map((name) => name.trim()).filter((name) => name.endsWith('Client')));
      for (const client of sdkClients) {
        for (const use of source.matchAll(new RegExp(`(tracedAwsClient\\()?new ${client}\\(`, 'g'))) {
          built.push(`${file}: ${client}`);
          if (!use[1]) untraced.push(`${file}: new ${client}(…) not wrapped in tracedAwsClient`);
        }
      }
    }
    // then: there are some, and all are traced
    expect(built.length).toBeGreaterThanOrEqual(5);
    expect(untraced).toEqual([]);
  });
});
