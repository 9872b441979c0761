import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export interface EventInvokerOptions {
  readonly functionName: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly fetch?: typeof fetch;
}

/**
 * Starts work in a new invocation of a Lambda (InvocationType Event): the caller answers AppSync at
 * once and the work goes on for as long as that function's timeout allows, past AppSync's 30 s.
 * Lambda's Invoke API is called directly with SigV4 (the SDK's Lambda client is not a dependency).
 * `what` names the work in the error when Lambda refuses it.
 */
export function lambdaEventInvoker(options: EventInvokerOptions): (payload: unknown, what: string) => Promise<void> {
  const signer = new SignatureV4({ credentials: options.credentials, region: options.region, service: 'lambda', sha256: Hash.bind(null, 'sha256') });
  const send = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  const hostname = `lambda.${options.region}.amazonaws.com`;
  const path = `/2015-03-31/functions/${encodeURIComponent(options.functionName)}/invocations`;
  return async (payload, what) => {
    const body = JSON.stringify(payload);
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'https:',
      hostname,
      path,
      headers: { host: hostname, 'content-type': 'application/json', 'x-amz-invocation-type': 'Event' },
      body,
    });
    const response = await send(`https://${hostname}${path}`, { method: 'POST', headers: signed.headers, body });
    if (response.status !== 202) {
      const text = await response.text().catch(() => '');
      throw new Error(`starting ${what} failed: Lambda answered ${response.status} ${text.slice(0, 300)}`);
    }
  };
}
