import { coordinateOf, type AppSyncEvent } from '../commons/appsync.ts';
import { LogLineError } from '../commons/errors.ts';
import type { SpanPublisher } from '../commons/publisher.ts';
import type { Ledger } from '../ledger/index.ts';

/** What an operation may use; made once per container (or by the local server) and shared. */
export interface Services {
  readonly ledger: Ledger;
  readonly publisher: SpanPublisher;
  /** Keys API token hashes (apps and access). */
  readonly tokenSecret: Buffer;
}

type Operation = (event: AppSyncEvent<unknown>, services: Services) => Promise<unknown>;

/**
 * A Lambda handler for one data source: finds the operation by the event's schema coordinate and
 * runs it. Errors the domain raises for clients keep their `name` (AppSync's errorType); anything
 * else is logged with a correlation id and replaced by a masked InternalError.
 */
export function createHandler(operations: Readonly<Record<string, Operation>>, services: () => Promise<Services>) {
  return async function handler(event: AppSyncEvent<unknown>): Promise<unknown> {
    const coordinate = coordinateOf(event);
    const operation = operations[coordinate];
    if (!operation) throw new LogLineError('NotImplemented', `this data source has no operation for ${coordinate}`);
    try {
      return await operation(event, await services());
    } catch (error) {
      if (error instanceof LogLineError) throw error;
      const correlationId = crypto.randomUUID();
      console.error(JSON.stringify({ level: 'error', correlationId, coordinate, error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error) }));
      throw new LogLineError('InternalError', `the request failed on our side; quote correlation id ${correlationId} when reporting it`, { correlationId });
    }
  };
}
