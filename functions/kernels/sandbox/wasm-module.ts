import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

/** @types/node does not declare the WebAssembly global. */
const { compile } = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<unknown> } }).WebAssembly;

let compiled: Promise<unknown> | undefined;

/**
 * QuickJS's WebAssembly, compiled once per process and handed to every worker, so a new worker skips
 * reading and compiling it. The file comes from env `LOGLINEOS_SANDBOX_WASM`, else the installed
 * package. Resolves to undefined when neither is there (a bundle without it): each worker then loads
 * the .wasm beside its own script, as Emscripten does by default.
 */
export function quickjsWasmModule(): Promise<unknown> {
  compiled ??= (async () => {
    try {
      const file = process.env.LOGLINEOS_SANDBOX_WASM || createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
      return await compile(await readFile(file));
    } catch {
      return undefined;
    }
  })();
  return compiled;
}
