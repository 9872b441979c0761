import { describe, expect, test } from 'vitest';
import { appSyncSink, lambdaLauncher, type RunJob } from '../../functions/prompts/index.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

function recordingFetch(status: number, body: unknown) {
  const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  const fetch = (async (url: string | URL, init?: RequestInit) => {
    calls.push({ url: String(url), headers: Object.fromEntries(Object.entries(init?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)])), body: String(init?.body) });
    return new Response(JSON.stringify(body), { status });
  }) as typeof globalThis.fetch;
  return { calls, fetch };
}

const job = { runId: '00000000-0000-4000-8000-000000000001', identity: { userId: 'u', tenantId: 't' } } as unknown as RunJob;

describe('the AWS path of a run', () => {
  test('runPrompt starts the run as an Event invocation of the prompts Lambda, SigV4-signed', async () => {
    // given the Lambda API accepting the invocation
    const { calls, fetch } = recordingFetch(202, {});
    // when a job is launched
    await lambdaLauncher({ functionName: 'loglineos-dev-prompts', region: 'eu-west-1', credentials, fetch })(job);
    // then Lambda's Invoke API was called asynchronously with the job, signed for lambda
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/loglineos-dev-prompts/invocations');
    expect(calls[0]!.headers['x-amz-invocation-type']).toBe('Event');
    expect(calls[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
    expect(JSON.parse(calls[0]!.body)).toEqual({ type: 'loglineos.prompts.run', job });
  });

  test('a refused invocation fails runPrompt rather than leaving a run that never starts', async () => {
    const { fetch } = recordingFetch(403, { message: 'not authorized' });
    await expect(lambdaLauncher({ functionName: 'f', region: 'eu-west-1', credentials, fetch })(job)).rejects.toThrow(/Lambda answered 403/);
  });

  test('run events are published with the IAM-only mutation, signed for appsync', async () => {
    const { calls, fetch } = recordingFetch(200, { data: { publishPromptRunEvent: null } });
    await appSyncSink({ graphqlUrl: 'https://abc.appsync-api.eu-west-1.amazonaws.com/graphql', region: 'eu-west-1', credentials, fetch })({ runId: 'r', ownerId: 'u', tenantId: 't', seq: 0, kind: 'chunk', text: 'hi', result: null, error: null });
    expect(calls[0]!.headers.authorization).toMatch(/\/eu-west-1\/appsync\/aws4_request/);
    const body = JSON.parse(calls[0]!.body) as { query: string; variables: { event: { text: string } } };
    expect(body.query).toContain('publishPromptRunEvent(event: $event) { runId ownerId tenantId seq kind text result error }');
    expect(body.variables.event.text).toBe('hi');
  });
});
