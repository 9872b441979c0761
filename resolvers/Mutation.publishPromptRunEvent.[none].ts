import type { Context } from '@aws-appsync/utils';

// A NONE data source: the event passes through unchanged, and AppSync hands it to onPromptRun's subscribers.
export function request(ctx: Context<{ event: Record<string, unknown> }>): { payload: Record<string, unknown> } {
  return { payload: ctx.args.event };
}

export function response(ctx: Context): unknown {
  return ctx.result;
}
