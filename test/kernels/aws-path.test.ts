import { describe, expect, test } from 'vitest';
import { isKernelRequestEvent, requestStarter } from '../../functions/api/kernels/request-runs.ts';
import type { KernelServices } from '../../functions/kernels/executor.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const request = { requestId: '00000000-0000-4000-8000-0000000000aa', caller: { userId: 'u1', tenantId: 't1' }, scopes: ['kernel:run_code:invoke'] };

function recordingFetch(status: number) {
  const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  const fetch = (async (url: string | URL, init?: RequestInit) => {
    calls.push({ url: String(url), headers: Object.fromEntries(Object.entries(init?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)])), body: String(init?.body) });
    return new Response('{}', { status });
  }) as typeof globalThis.fetch;
  return { calls, fetch };
}

const noServices = (): KernelServices => {
  throw new Error('the AWS path must not run the request in this process');
};

describe('scheduleKernel on AWS', () => {
  test('starts the request as an Event invocation of the kernels Lambda, SigV4-signed, with its caller and scopes', async () => {
    // given the Lambda API accepting invocations, and the function's own name in the environment
    const { calls, fetch } = recordingFetch(202);
    const background: (() => Promise<unknown>)[] = [];
    const start = requestStarter({ KERNELS_FUNCTION_NAME: 'loglineos-dev-kernels', AWS_REGION: 'eu-west-1' }, (work) => background.push(work), noServices, { credentials, fetch });
    // when a request is started
    await start(request);
    // then Lambda's Invoke API was called asynchronously with the request, and nothing ran here
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/loglineos-dev-kernels/invocations');
    expect(calls[0]?.headers['x-amz-invocation-type']).toBe('Event');
    expect(calls[0]?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
    const payload: unknown = JSON.parse(calls[0]?.body ?? 'null');
    expect(isKernelRequestEvent(payload)).toBe(true);
    expect(payload).toEqual({ type: 'loglineos.kernels.request', ...request });
    expect(background).toHaveLength(0);
  });

  test('a refused invocation fails scheduleKernel instead of leaving the caller waiting', async () => {
    const { fetch } = recordingFetch(403);
    const start = requestStarter({ KERNELS_FUNCTION_NAME: 'f', AWS_REGION: 'eu-west-1' }, () => undefined, noServices, { credentials, fetch });
    await expect(start(request)).rejects.toThrow(/starting the scheduled request .* failed: Lambda answered 403/);
  });

  test('without a function name the request runs in this process\'s background', async () => {
    const background: (() => Promise<unknown>)[] = [];
    const start = requestStarter({}, (work) => background.push(work), noServices, { credentials });
    await start(request);
    expect(background).toHaveLength(1);
  });
});
