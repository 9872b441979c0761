import { capability, defineKernel, type Json } from './kernel-context.ts';

interface ProviderRow {
  id: string;
  name: string | null;
  model: string | null;
  metadata: { model_id?: string; system?: string; max_tokens?: number; temperature?: number } | null;
  [key: string]: Json;
}

/**
 * provider_exec: calls the model a `provider` span describes (a Bedrock model id in `model` or
 * metadata.model_id; the offline provider answers locally) and records a provider_execution span.
 * Input: { provider_id, prompt, system? }.
 */
defineKernel(async (ctx) => {
  const input = (ctx.input ?? {}) as { provider_id?: string; prompt?: string; system?: string };
  if (typeof input.provider_id !== 'string' || typeof input.prompt !== 'string') {
    throw new Error('provider_exec needs input { provider_id: "<provider span id>", prompt: "…", system?: "…" }');
  }
  const [provider] = await ctx.sql<ProviderRow>(
    `select p.id, p.name, p.model, p.metadata from ledger.latest_spans p where p.id = $1 and p.entity_type = 'provider' and not p.is_deleted`,
    [input.provider_id],
  );
  if (!provider) throw new Error(`no provider span ${input.provider_id} that you can read`);
  const modelId = provider.model ?? provider.metadata?.model_id;
  if (!modelId) throw new Error(`provider ${provider.id} names no model: set its model column or metadata.model_id`);
  const invokeModel = capability(ctx, 'invokeModel');
  const answer = await invokeModel({
    modelId,
    system: input.system ?? provider.metadata?.system ?? '',
    messages: [{ role: 'user', text: input.prompt }],
    ...(provider.metadata?.max_tokens ? { maxTokens: provider.metadata.max_tokens } : {}),
    ...(provider.metadata?.temperature !== undefined ? { temperature: provider.metadata.temperature } : {}),
  });
  const execution = await ctx.insertSpan({
    entityType: 'provider_execution',
    who: 'kernel:provider_exec',
    did: 'invoked',
    this: `provider ${provider.name ?? provider.id}`,
    parentId: provider.id,
    status: 'complete',
    model: answer.modelId,
    provider: answer.provider,
    input: { prompt: input.prompt },
    output: { text: answer.text, stop_reason: answer.stopReason },
    inputTokens: answer.inputTokens,
    outputTokens: answer.outputTokens,
    latencyMs: answer.latencyMs,
    metadata: { offline: answer.offline },
  });
  return { provider_execution_id: execution.id, text: answer.text, offline: answer.offline };
});
