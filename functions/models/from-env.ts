import { bedrockProvider, type BedrockProviderOptions } from './bedrock.ts';
import { OFFLINE_MODEL_ID, offlineProvider } from './offline.ts';
import type { ModelProvider } from './types.ts';

/** A provider with the model id to use when the caller names none. */
export interface ConfiguredModelProvider extends ModelProvider {
  readonly defaultModelId: string;
}

/**
 * The model this deployment uses. Offline unless `LOGLINEOS_MODEL_PROVIDER=bedrock`, which also needs
 * `LOGLINEOS_MODEL_ID` (a Bedrock model or inference profile id); the region is
 * `LOGLINEOS_MODEL_REGION`, else `AWS_REGION`. `LOGLINEOS_MODEL_MAX_ATTEMPTS` caps the attempts.
 */
export function providerFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: BedrockProviderOptions = {}): ConfiguredModelProvider {
  const kind = (env.LOGLINEOS_MODEL_PROVIDER ?? 'offline').trim().toLowerCase();
  if (kind === 'offline' || kind === '') return { ...offlineProvider(), defaultModelId: env.LOGLINEOS_MODEL_ID || OFFLINE_MODEL_ID };
  if (kind !== 'bedrock') {
    throw new Error(`LOGLINEOS_MODEL_PROVIDER must be "bedrock" or "offline", got ${JSON.stringify(env.LOGLINEOS_MODEL_PROVIDER)}; unset it to answer offline`);
  }
  const modelId = env.LOGLINEOS_MODEL_ID?.trim();
  if (!modelId) {
    throw new Error('LOGLINEOS_MODEL_ID is not set; with LOGLINEOS_MODEL_PROVIDER=bedrock name a Bedrock model or inference profile id, e.g. anthropic.claude-3-5-haiku-20241022-v1:0');
  }
  const region = env.LOGLINEOS_MODEL_REGION || env.AWS_REGION;
  const maxAttempts = env.LOGLINEOS_MODEL_MAX_ATTEMPTS ? Number(env.LOGLINEOS_MODEL_MAX_ATTEMPTS) : undefined;
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
    throw new Error(`LOGLINEOS_MODEL_MAX_ATTEMPTS must be a whole number of at least 1, got ${JSON.stringify(env.LOGLINEOS_MODEL_MAX_ATTEMPTS)}`);
  }
  return {
    ...bedrockProvider({ ...(region ? { region } : {}), ...(maxAttempts ? { maxAttempts } : {}), ...overrides }),
    defaultModelId: modelId,
  };
}
