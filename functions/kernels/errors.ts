import { LogLineError, type ErrorInfo } from '../commons/errors.ts';

/**
 * Why a kernel did not run. Each is a stable errorType; the refusal is also written to the ledger
 * (a boot_event with status `refused`, or a policy_violation) before the error reaches the caller.
 */
export type KernelRefusal =
  | 'KernelNotFound'
  | 'KernelNotAllowed'
  | 'KernelHashMismatch'
  | 'KernelSignatureInvalid'
  | 'KernelBusy'
  | 'QuotaExceeded'
  | 'RequestNotScheduled'
  | 'ManifestMissing';

export class KernelError extends LogLineError {
  constructor(errorType: KernelRefusal, message: string, info: ErrorInfo = {}) {
    super(errorType, message, info);
  }
}
