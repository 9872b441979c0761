import { logger } from '../functions/commons/observability.ts';
import type { Caller } from './auth.ts';
import { operationOf, prepareDocument, type GraphqlRequest, type LocalApi } from './execute.ts';

/**
 * One structured line per GraphQL request of the local server, in the same JSON shape the Lambdas
 * log (Powertools' logger): the request id AppSync would assign (also sent to the handlers as
 * `x-amzn-requestid` and back to the client), the operation, the caller's auth mode, the duration
 * and the first errorType.
 */
export function logGraphqlRequest(entry: {
  readonly requestId: string;
  readonly started: number;
  readonly caller?: Caller;
  readonly api?: LocalApi;
  readonly request?: GraphqlRequest;
  readonly errorType?: string;
}): void {
  // The operation's description is skipped when nobody would read it.
  if (!['TRACE', 'DEBUG', 'INFO'].includes(logger.getLevelName())) return;
  logger.info('graphql request', {
    correlation_id: entry.requestId,
    operation: entry.api && entry.request ? describeOperation(entry.api, entry.request) : null,
    callerMode: entry.caller?.mode ?? null,
    durationMs: Math.round(performance.now() - entry.started),
    ...(entry.errorType ? { errorType: entry.errorType } : {}),
  });
}

/** `query timeline`, `mutation appendSpan,appendSpan`: the type and the root fields (the document is cached). */
function describeOperation(api: LocalApi, request: GraphqlRequest): string | null {
  const document = prepareDocument(api, request.query);
  if (Array.isArray(document)) return null;
  const operation = operationOf(document as Exclude<typeof document, readonly unknown[]>, request.operationName);
  if (!operation) return null;
  const fields = operation.selectionSet.selections.map((selection) => (selection.kind === 'Field' ? selection.name.value : selection.kind)).join(',');
  return `${operation.operation} ${operation.name?.value ? `${operation.name.value} ` : ''}${fields}`;
}
