/** Scopes an API token can carry (issue: apps and access). */
export const SCOPES = ['span.read', 'span.write', 'memory.read', 'memory.write', 'prompt.run', 'provider.invoke', 'admin'] as const;
const KERNEL_SCOPE = /^kernel:[a-z][a-z0-9_]{0,63}:invoke$/;

export function isScope(value: string): boolean {
  return (SCOPES as readonly string[]).includes(value) || KERNEL_SCOPE.test(value);
}

/**
 * The scope each API field needs from a token caller. Fields not listed here are not open to tokens
 * at all (app and token management needs a signed-in user).
 */
export const FIELD_SCOPES: Readonly<Record<string, string>> = {
  'Query.span': 'span.read',
  'Query.spans': 'span.read',
  'Query.timeline': 'span.read',
  'Query.timelineHead': 'span.read',
  'Query.verifySpan': 'span.read',
  'Query.verifyLedger': 'span.read',
  'Subscription.onTimeline': 'span.read',
  'Mutation.appendSpan': 'span.write',
};

/** The fields a token with these scopes may not use (AppSync's `deniedFields`, as Type.field). */
export function deniedFields(scopes: readonly string[]): string[] {
  if (scopes.includes('admin')) return [];
  return Object.entries(FIELD_SCOPES)
    .filter(([, scope]) => !scopes.includes(scope))
    .map(([field]) => field);
}
