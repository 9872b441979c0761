import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { RunJob } from './types.ts';

/** The event the prompts Lambda receives to run an accepted job (not an AppSync event). */
export interface RunJobEvent {
  readonly type: 'loglineos.prompts.run';
  readonly job: RunJob;
}

export const isRunJobEvent = (event: unknown): event is RunJobEvent => (event as { type?: unknown } | null)?.type === 'loglineos.prompts.run';

/**
 * Starts a run in a new invocation of the prompts Lambda (InvocationType Event): AppSync gets the run
 * id at once and the run streams for as long as the function's timeout allows, past AppSync's 30 s.
 * Lambda's Invoke API is called directly with SigV4 (the SDK's Lambda client is not a dependency).
 */
export function lambdaLauncher(options: { functionName: string; region: string; credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider; fetch?: typeof fetch }) {
  const signer = new SignatureV4({ credentials: options.credentials, region: options.region, service: 'lambda', sha256: Hash.bind(null, 'sha256') });
  const send = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  const hostname = `lambda.${options.region}.amazonaws.com`;
  const path = `/2015-03-31/functions/${encodeURIComponent(options.functionName)}/invocations`;
  return async (job: RunJob): Promise<void> => {
    const body = JSON.stringify({ type: 'loglineos.prompts.run', job } satisfies RunJobEvent);
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
      throw new Error(`starting the prompt run ${job.runId} failed: Lambda answered ${response.status} ${text.slice(0, 300)}`);
    }
  };
}
