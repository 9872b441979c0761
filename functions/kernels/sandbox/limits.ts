import { DEFAULT_LIMITS, type SandboxLimits } from './types.ts';

/** The limits of one run: the defaults, overridden by the request, each checked to be usable. */
export function resolveLimits(requested: Partial<SandboxLimits> | undefined): SandboxLimits | { readonly problem: string } {
  const limits = { ...DEFAULT_LIMITS, ...stripUndefined(requested ?? {}) };
  for (const [name, value] of Object.entries(limits)) {
    // maxHostCalls may be 0: a run with no way out at all (policies evaluate that way).
    const least = name === 'maxHostCalls' ? 0 : 1;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) {
      return {
        problem: `limits.${name} must be an integer of at least ${least}, got ${JSON.stringify(value)}; leave it out for the default ${String(DEFAULT_LIMITS[name as keyof SandboxLimits])}`,
      };
    }
  }
  return limits;
}

function stripUndefined(limits: Partial<SandboxLimits>): Partial<SandboxLimits> {
  return Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
}

/** "32 MiB", "256 KiB", "1000 bytes": how a limit reads in an error message. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export const limitMessages = {
  timeout: (limits: SandboxLimits) => `the kernel ran longer than its time limit of ${limits.timeoutMs} ms (timeoutMs)`,
  memory: (bytes: number) => `the kernel used more than its memory limit of ${formatBytes(bytes)} (memoryBytes)`,
  stack: () => 'the kernel overflowed its stack (too deep recursion)',
  output: (size: number, limits: SandboxLimits) =>
    `the kernel's output is ${size} bytes of JSON, more than the limit of ${formatBytes(limits.maxOutputBytes)} (maxOutputBytes)`,
  hostCalls: (limits: SandboxLimits) => `the kernel made more than ${limits.maxHostCalls} host calls (maxHostCalls)`,
  hostArgument: (name: string, size: number, limits: SandboxLimits) =>
    `the arguments of ctx.${name} are ${size} bytes of JSON, more than the limit of ${formatBytes(limits.maxHostArgumentBytes)} (maxHostArgumentBytes)`,
};
