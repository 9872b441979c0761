import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { DataSourceDefinition, Services } from '../handler.ts';
import { createPromptRuntime, type HostedPromptRuntime, type PromptContext } from '../../prompts/index.ts';
import { memorySearchFrom } from './memory.ts';
import { PROMPTS_OPERATIONS } from './operations.ts';

export interface PromptServices extends Services {
  readonly prompts: PromptContext & { readonly runtime: HostedPromptRuntime };
}

/** The `prompts` data source: blocks, variants, builds, runs (streamed), evaluations, selection. */
export const PROMPTS_DATA_SOURCE: DataSourceDefinition<PromptServices> = {
  operations: PROMPTS_OPERATIONS,
  services: async (base) => {
    const memory = await memorySearchFrom(base);
    const runtime = createPromptRuntime({
      ledger: base.ledger,
      env: base.env,
      internalGraphql: base.internalGraphql,
      memory: memory.search,
      credentials: () => defaultProvider(),
    });
    return {
      ...base,
      prompts: { ledger: base.ledger, runtime },
      close: async () => {
        await runtime.close();
        await memory.close();
      },
    };
  },
};
