import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { createAppSyncPublisher } from '../commons/appsync-publisher.ts';
import { observedHandler } from '../commons/observability.ts';
import { noPublisher, type SpanPublisher } from '../commons/publisher.ts';
import { currentEnvironment, currentLedger, currentTokenSecret } from '../commons/runtime.ts';
import { createHandler, type DataSourceDefinition, type Services } from './handler.ts';

// Made once per container. Without APPSYNC_GRAPHQL_URL (tests, tools) nothing is published live;
// subscribers still find every span through timeline(after: cursor).
const publisher: SpanPublisher = process.env.APPSYNC_GRAPHQL_URL
  ? createAppSyncPublisher({ graphqlUrl: process.env.APPSYNC_GRAPHQL_URL, region: process.env.AWS_REGION ?? 'us-east-1', credentials: defaultProvider() })
  : noPublisher;

/** The shared services of this container, built on first use and kept warm. */
export async function containerServices(): Promise<Services> {
  return { ledger: await currentLedger(), publisher, tokenSecret: await currentTokenSecret(), env: await currentEnvironment() };
}

/**
 * A data source's services in this container: built on first use and kept warm; a failed build is
 * retried by the next invocation. Every entry of one data source in a container shares them.
 */
export function containerServicesOf<S extends Services>(definition: DataSourceDefinition<S>): () => Promise<S> {
  let services: Promise<S> | undefined;
  return () => {
    services ??= containerServices()
      .then(definition.services)
      .catch((error: unknown) => {
        services = undefined;
        throw error;
      });
    return services;
  };
}

/** The Lambda handler of one data source: every event is dispatched by schema coordinate, observed. */
export function lambdaEntry<S extends Services>(name: string, definition: DataSourceDefinition<S>) {
  return observedHandler(name, createHandler(definition.operations, containerServicesOf(definition)), { ledger: currentLedger });
}
