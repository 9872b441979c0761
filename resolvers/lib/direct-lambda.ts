import { util, type Context, type LambdaRequest } from '@aws-appsync/utils';

/**
 * Forwards the field to its Lambda data source with the same event a direct Lambda resolver would
 * get, so handlers see one shape however they are reached.
 */
export function request(ctx: Context): LambdaRequest {
  return {
    operation: 'Invoke',
    payload: {
      arguments: ctx.arguments,
      identity: ctx.identity,
      source: ctx.source,
      request: { headers: ctx.request.headers },
      info: ctx.info,
      prev: ctx.prev,
      stash: ctx.stash,
    },
  };
}

/** The handler's result, or its error with the errorType it named. */
export function response(ctx: Context): unknown {
  if (ctx.error) util.error(ctx.error.message, ctx.error.type);
  return ctx.result;
}
