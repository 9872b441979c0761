import type { Seed } from '../ledger/index.ts';
import { CORE_KERNEL_CODE } from './generated/core-kernels.ts';
import { CORE_KERNELS, CORE_KERNEL_NAMES, MANIFEST_ID } from './ids.ts';
import { DEFAULT_MANIFEST_METADATA } from './manifest.ts';

const DESCRIPTIONS: Readonly<Record<keyof typeof CORE_KERNELS, string>> = {
  run_code: 'Runs one function span: quota, lock, sandboxed run, execution span. Input { span_id, input }.',
  observer: 'Turns functions with status scheduled into request spans (idempotent). Input { limit? }.',
  request_worker: 'Runs scheduled requests in order and records each completion as a new version. Input { request_id?, limit? }.',
  policy_agent: "Evaluates active policies' on(span) over new spans; actions, policy_error, policy_cursor. Input { limit? }.",
  provider_exec: 'Calls the model a provider span describes and records a provider_execution. Input { provider_id, prompt, system? }.',
};

/**
 * The manifest and the five core kernels, public and tenantless, signed by the deployment key when
 * the seeds are applied. A release whose kernel sources changed appends new versions.
 */
export const KERNELS_SEED: Seed = {
  name: 'kernels',
  spans: () => [
    {
      id: MANIFEST_ID,
      entityType: 'manifest',
      who: 'system:loglineos',
      did: 'published',
      this: 'kernel manifest',
      name: 'manifest',
      visibility: 'public',
      status: 'active',
      metadata: DEFAULT_MANIFEST_METADATA as never,
    },
    ...CORE_KERNEL_NAMES.map((name) => ({
      id: CORE_KERNELS[name],
      entityType: 'function',
      who: 'system:loglineos',
      did: 'defined',
      this: `kernel ${name}`,
      name,
      description: DESCRIPTIONS[name],
      code: CORE_KERNEL_CODE[name],
      language: 'javascript',
      runtime: 'quickjs',
      visibility: 'public' as const,
      status: 'active',
    })),
  ],
};
