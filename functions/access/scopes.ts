/** Scopes an API token can carry (issue: apps and access). */
export const SCOPES = ['span.read', 'span.write', 'memory.read', 'memory.write', 'prompt.run', 'provider.invoke', 'admin'] as const;
const KERNEL_SCOPE = /^kernel:[a-z][a-z0-9_]{0,63}:invoke$/;
/** In FIELD_SCOPES: the field is open to a token holding any `kernel:<name>:invoke` scope. */
export const ANY_KERNEL_SCOPE = 'kernel:*:invoke';

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
  'Query.ledgerCheckpoint': 'span.read',
  'Query.inclusionProof': 'span.read',
  'Query.consistencyProof': 'span.read',
  'Mutation.checkpointLedger': 'span.write',
  'Subscription.onTimeline': 'span.read',
  'Mutation.appendSpan': 'span.write',
  'Query.promptBlocks': 'prompt.run',
  'Query.promptVariants': 'prompt.run',
  'Mutation.createPromptBlock': 'prompt.run',
  'Mutation.createPromptVariant': 'prompt.run',
  'Mutation.buildPrompt': 'prompt.run',
  'Mutation.runPrompt': 'prompt.run',
  'Mutation.evaluatePrompt': 'prompt.run',
  'Mutation.selectVariant': 'prompt.run',
  'Subscription.onPromptRun': 'prompt.run',
  'Query.kernel': 'span.read',
  'Query.kernels': 'span.read',
  'Query.executions': 'span.read',
  'Query.manifest': 'span.read',
  'Mutation.defineKernel': 'span.write',
  // Any kernel scope reaches these fields; the executor then requires kernel:<name>:invoke for the kernel run.
  'Mutation.runKernel': ANY_KERNEL_SCOPE,
  'Mutation.bootKernel': ANY_KERNEL_SCOPE,
  'Mutation.scheduleKernel': ANY_KERNEL_SCOPE,
  'Query.memory': 'memory.read',
  'Query.searchMemories': 'memory.read',
  'Query.sessionMemories': 'memory.read',
  'Mutation.upsertMemory': 'memory.write',
  'Mutation.forgetMemory': 'memory.write',
  'Mutation.forgetSession': 'memory.write',
  'Mutation.promoteMemory': 'memory.write',
};

/** The fields a token with these scopes may not use (AppSync's `deniedFields`, as Type.field). */
export function deniedFields(scopes: readonly string[]): string[] {
  if (scopes.includes('admin')) return [];
  return Object.entries(FIELD_SCOPES)
    .filter(([, scope]) => (scope === ANY_KERNEL_SCOPE ? !scopes.some((held) => KERNEL_SCOPE.test(held)) : !scopes.includes(scope)))
    .map(([field]) => field);
}
