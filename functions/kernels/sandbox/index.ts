export { createSandbox } from './sandbox.ts';
export {
  DEFAULT_LIMITS,
  type HostFunction,
  type HostFunctions,
  type RunRequest,
  type RunResult,
  type Sandbox,
  type SandboxErrorCode,
  type SandboxLimits,
  type SandboxOptions,
} from './types.ts';
