export type { ModelCompletion, ModelEvent, ModelMessage, ModelProvider, ModelRequest } from './types.ts';
export { bedrockProvider, type BedrockProviderOptions } from './bedrock.ts';
export { offlineProvider, OFFLINE_LABEL, OFFLINE_MODEL_ID, INSUFFICIENT_EVIDENCE, type OfflineProviderOptions } from './offline.ts';
export { providerFromEnv, type ConfiguredModelProvider } from './from-env.ts';
export { isTransientModelError, backoffDelay, type RetrySettings } from './retry.ts';
export { collect, estimateTokens } from './complete.ts';
