// Starts the TypeScript kernel worker through tsx: Node 20 does not apply `--import tsx` given in a
// Worker's execArgv, so the worker registers tsx itself. A deployed bundle runs its prebuilt JS worker
// instead (LOGLINEOS_SANDBOX_WORKER, see docs/sandbox.md) and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import('./kernel-worker.ts');
