import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { SpanEvent, SpanPublisher } from './publisher.ts';

export const PUBLISH_SPAN_MUTATION = `mutation PublishSpan($event: SpanEventInput!) {
  publishSpan(event: $event) { cursor id seq entityType ownerId tenantId visibility traceId parentId truncated span }
}`;

export interface AppSyncPublisherOptions {
  /** The API's GraphQL URL (…/graphql). */
  readonly graphqlUrl: string;
  readonly region: string;
  /** The writer's IAM credentials; on Lambda, the function role's (from the default provider chain). */
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly fetch?: typeof fetch;
}

/**
 * A GraphQL mutation sent to AppSync over HTTPS, SigV4-signed as the writer's IAM role (the only
 * principal the schema lets call the publishing mutations). `field` names the mutation in errors.
 */
export function iamGraphqlSender(options: AppSyncPublisherOptions): (field: string, query: string, variables: Record<string, unknown>) => Promise<void> {
  const url = new URL(options.graphqlUrl);
  const signer = new SignatureV4({ credentials: options.credentials, region: options.region, service: 'appsync', sha256: Hash.bind(null, 'sha256') });
  const send = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  return async (field, query, variables) => {
    const body = JSON.stringify({ query, variables });
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    });
    const response = await send(url, { method: 'POST', headers: signed.headers, body });
    const result = (await response.json().catch(() => null)) as { errors?: { errorType?: string; message?: string }[] } | null;
    if (!response.ok || result?.errors?.length) {
      const error = result?.errors?.[0];
      throw new Error(`${field} was refused (${response.status} ${error?.errorType ?? ''}): ${error?.message ?? 'no GraphQL answer'}`);
    }
  };
}

/**
 * Publishes committed spans on AWS: the publishSpan mutation as the writer's IAM role. Every field is
 * selected, because subscribers receive only what the publishing mutation selected.
 */
export function createAppSyncPublisher(options: AppSyncPublisherOptions): SpanPublisher {
  const sendMutation = iamGraphqlSender(options);
  return { publish: (event: SpanEvent) => sendMutation('publishSpan', PUBLISH_SPAN_MUTATION, { event }) };
}
