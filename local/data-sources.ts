import type { DataSource } from './execute.ts';
import { jsonCopy } from './json-copy.ts';

type Handler = (event: unknown) => Promise<unknown>;

/**
 * A Lambda data source in process: the resolver's `{ operation: 'Invoke', payload }` becomes the
 * handler's event, and what crosses the boundary is copied both ways as a trip through JSON would
 * leave it (json-copy.ts), as it is serialised on AWS. A thrown error reaches the resolver as
 * `ctx.error` with the error's name as its type.
 */
export function lambdaDataSource(handler: Handler): DataSource {
  return async (request) => {
    const invoke = request as { operation?: unknown; payload?: unknown } | null;
    if (invoke?.operation !== 'Invoke' && invoke?.operation !== 'BatchInvoke') {
      return { error: { message: 'a Lambda data source takes { operation: "Invoke", payload }', type: 'Lambda:IllegalArgument' } };
    }
    try {
      const result = await handler(jsonCopy(invoke.payload ?? null));
      return { result: result === undefined ? null : jsonCopy(result) };
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      return { error: { message: failure.message, type: failure.name } };
    }
  };
}
