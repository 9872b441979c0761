import type { Tracer } from '@aws-lambda-powertools/tracer';
import { METRICS_SERVICE } from './observability-metrics.ts';

/**
 * The X-Ray tracer of this Lambda container, and the AWS SDK clients it traces. X-Ray exists only on
 * Lambda; elsewhere (the local server, the CLI, tests) the tracer and its SDK (~60 ms to load) stay
 * out, and clients are returned untouched.
 */

let loading: Promise<Tracer | null> | undefined;
/** What `loading` resolved to, once it has: clients built after that are patched at once. */
let loaded: Tracer | null | undefined;

export function lambdaTracer(): Promise<Tracer | null> {
  loading ??= (
    process.env.AWS_LAMBDA_FUNCTION_NAME
      ? import('@aws-lambda-powertools/tracer').then(({ Tracer: Created }) => new Created({ serviceName: METRICS_SERVICE }))
      : Promise.resolve(null)
  ).then((tracer) => (loaded = tracer));
  return loading;
}

/**
 * On Lambda, `client`'s calls become X-Ray subsegments of the invocation (service, operation, status,
 * retries, throttles), so a slow KMS or Bedrock call shows on the trace map; elsewhere `client`
 * as it is. A client built before the tracer has loaded (at module scope, before the first
 * invocation) is patched when it has: observedHandler waits for it before any handler runs, so no
 * call goes out unpatched.
 */
export function tracedAwsClient<C extends object>(client: C): C {
  if (!process.env.AWS_LAMBDA_FUNCTION_NAME) return client;
  if (loaded !== undefined) return loaded ? loaded.captureAWSv3Client(client) : client;
  void lambdaTracer().then((tracer) => tracer?.captureAWSv3Client(client));
  return client;
}
