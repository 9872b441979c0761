/** The fixed ids of the manifest and the five core kernels (SPEC §4). */
export const MANIFEST_ID = '00000000-0000-4000-8000-000000000000';

export const CORE_KERNELS = {
  run_code: '00000000-0000-4000-8000-000000000001',
  observer: '00000000-0000-4000-8000-000000000002',
  request_worker: '00000000-0000-4000-8000-000000000003',
  policy_agent: '00000000-0000-4000-8000-000000000004',
  provider_exec: '00000000-0000-4000-8000-000000000005',
} as const;

export type CoreKernelName = keyof typeof CORE_KERNELS;

export const CORE_KERNEL_NAMES = Object.keys(CORE_KERNELS) as CoreKernelName[];

export function coreKernelName(id: string): CoreKernelName | undefined {
  return CORE_KERNEL_NAMES.find((name) => CORE_KERNELS[name] === id);
}

/** The ids 00000000-0000-4000-8000-0000000000xx are the system's (manifest, core kernels, future seeds). */
export function isReservedId(id: string): boolean {
  return /^00000000-0000-4000-8000-0000000000[0-9a-f]{2}$/i.test(id);
}
