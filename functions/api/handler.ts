import { coordinateOf, type AppSyncEvent } from '../commons/appsync.ts';
import { LogLineError } from '../commons/errors.ts';
import { correlationIdOf, errorTypeOf, logger } from '../commons/observability.ts';
import { countMetric } from '../commons/observability-metrics.ts';
import type { SpanPublisher } from '../commons/publisher.ts';
import type { Ledger } from '../ledger/index.ts';

/** What every operation may use; made once per container (or by the local server) and shared. */
export interface Services {
  readonly ledger: Ledger;
  readonly publisher: SpanPublisher;
  /** Keys API token hashes (apps and access). */
  readonly tokenSecret: Buffer;
  /** Where a data source reads its settings (process.env on Lambda; the local server may pass its own). */
  readonly env: NodeJS.ProcessEnv;
  /**
   * Calls this API in process as the internal IAM writer (what a Lambda does over SigV4 with
   * APPSYNC_GRAPHQL_URL): set by the local server for publishing mutations other than publishSpan.
   */
  readonly internalGraphql?: (request: { query: string; variables?: Record<string, unknown> }) => Promise<{ data?: unknown; errors?: readonly { message: string }[] }>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each operation types its own arguments
export type Operation<S extends Services = Services> = (event: AppSyncEvent<any>, services: S) => Promise<unknown>;
export type Operations<S extends Services = Services> = Readonly<Record<string, Operation<S>>>;

/**
 * A Lambda data source: the fields it serves, by schema coordinate, and what they use beyond the
 * shared services (a sandbox pool, a cache, a model client), built once and closed with the server.
 */
export interface DataSourceDefinition<S extends Services = Services> {
  readonly operations: Operations<S>;
  readonly services: (base: Services) => Promise<S & { close?(): Promise<void> }>;
}

/**
 * A Lambda handler for one data source: finds the operation by the event's schema coordinate and
 * runs it. Errors the domain raises for clients keep their `name` (AppSync's errorType); anything
 * else is logged once, with AppSync's request id as its correlation id, and replaced by a masked
 * InternalError that quotes it.
 */
export function createHandler<S extends Services>(operations: Operations<S>, services: () => Promise<S>) {
  return async function handler(event: AppSyncEvent<unknown>): Promise<unknown> {
    const coordinate = coordinateOf(event);
    const operation = operations[coordinate];
    if (!operation) throw new LogLineError('NotImplemented', `this data source has no operation for ${coordinate}`);
    try {
      return await operation(event, await services());
    } catch (error) {
      if (error instanceof LogLineError) throw error;
      const correlationId = correlationIdOf(event);
      countMetric('InternalErrors');
      // Keys passed per line, not appended: the local server runs many requests at once on one logger.
      logger.error('unexpected error', { correlation_id: correlationId, operation: coordinate, errorType: errorTypeOf(error), error: error instanceof Error ? error : new Error(String(error)) });
      throw new LogLineError('InternalError', `the request failed on our side; quote correlation id ${correlationId} when reporting it`, { correlationId });
    }
  };
}
