import type { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { BundledFunction } from '../../infra/lib/bundled-function.ts';
import { DATA_SOURCE_NEEDS } from '../../infra/lib/data-source-needs.ts';
import { environmentSettings } from '../../infra/lib/environments.ts';
import { resourcesOf, synthesize } from './synth.ts';

// Given production, synthesized once for this file
const { api, deployment } = synthesize('production');
const settings = environmentSettings('production');
const idOf = (element: unknown) => deployment.api.getLogicalId(element as CfnElement);

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** A function's template properties, environment and the IAM statements of its role. */
function deployed(bundled: BundledFunction | undefined) {
  if (!bundled) throw new Error('no such function');
  const properties = resourcesOf(api, 'AWS::Lambda::Function')[idOf(bundled.function.node.defaultChild)]?.Properties ?? {};
  const role = idOf(bundled.function.role?.node.defaultChild);
  const statements = Object.values(resourcesOf(api, 'AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties?.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap((policy) => (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement);
  const variables = (properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
  const allowed = (action: string) => statements.filter((statement) => [statement.Action].flat().includes(action)).flatMap((statement) => [statement.Resource].flat());
  return { properties, variables, allowed, logicalId: idOf(bundled.function.node.defaultChild) };
}

const fn = (name: string) => deployed(deployment.api.functions.get(name));
const modelArn = (id: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:', { Ref: 'AWS::Region' }, `::foundation-model/${id}`]] });

describe('what each data source needs beyond the ledger', () => {
  it('kernels run in a sandbox shipped with the bundle, with room for long runs', () => {
    // When the kernels function is read
    const kernels = fn('kernels');
    // Then its bundle's worker and wasm are where the sandbox looks, and it may run five minutes
    expect(kernels.variables).toMatchObject({ LOGLINEOS_SANDBOX_WORKER: '/var/task/kernel-worker.mjs', LOGLINEOS_SANDBOX_WASM: '/var/task/emscripten-module.wasm' });
    expect(kernels.properties).toMatchObject({ Timeout: 300, MemorySize: 1024 });
    // And the ledger's function has no sandbox
    expect(fn('ledger').variables).not.toHaveProperty('LOGLINEOS_SANDBOX_WORKER');
  });

  it('model calls reach exactly the configured Bedrock models', () => {
    // When the Bedrock permissions are read
    const prompts = fn('prompts');
    const memory = fn('memory');
    // Then prompts stream from the text model and embed with the embedding model; memory only embeds
    expect(prompts.allowed('bedrock:InvokeModelWithResponseStream')).toEqual([modelArn(settings.models.textModelId)]);
    expect(prompts.variables).toMatchObject({ LOGLINEOS_MODEL_PROVIDER: 'bedrock', LOGLINEOS_MODEL_ID: settings.models.textModelId, MEMORY_EMBEDDING_MODEL: settings.models.embeddingModelId });
    expect(memory.allowed('bedrock:InvokeModel')).toEqual([modelArn(settings.models.embeddingModelId)]);
    expect(memory.allowed('bedrock:InvokeModelWithResponseStream')).toEqual([]);
    expect(fn('ledger').allowed('bedrock:InvokeModel')).toEqual([]);
  });

  it('memory data keys are generated and unwrapped with the memory key, by memory and prompts only', () => {
    // When the KMS permissions and settings are read
    const key = { 'Fn::GetAtt': [idOf(deployment.api.memoryKey.node.defaultChild), 'Arn'] };
    // Then the functions that read or write memories name the key, and the ledger cannot use it
    for (const name of ['memory', 'prompts']) {
      expect(fn(name).variables.MEMORY_KMS_KEY_ID, name).toEqual(key);
      expect(fn(name).allowed('kms:GenerateDataKey'), name).toEqual([key]);
    }
    expect(fn('ledger').allowed('kms:GenerateDataKey')).toEqual([]);
    api.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: Match.stringLikeRegexp('memories') });
  });

  it.each([
    ['prompts', 'PROMPTS_FUNCTION_NAME'],
    ['kernels', 'KERNELS_FUNCTION_NAME'],
  ])('%s runs continue in an asynchronous invocation of the function itself', (name, variable) => {
    // When the function's name, setting and invoke permission are read
    const deployedFunction = fn(name);
    const functionName = `loglineos-${settings.name}-${name}`;
    // Then it knows its fixed name and may invoke exactly that function, for up to five minutes
    expect(deployedFunction.properties.FunctionName).toBe(functionName);
    expect(deployedFunction.variables[variable]).toBe(functionName);
    expect(JSON.stringify(deployedFunction.allowed('lambda:InvokeFunction'))).toContain(`:function:${functionName}"`);
    expect(deployedFunction.properties.Timeout).toBe(300);
    expect(fn('ledger').allowed('lambda:InvokeFunction')).toEqual([]);
  });

  it('only the prompts function may publish prompt run events; every writer may publish spans', () => {
    // When the AppSync mutation grants are read
    const granted = (name: string) => JSON.stringify(fn(name).allowed('appsync:GraphQL'));
    // Then publishPromptRunEvent is granted to prompts alone
    expect(granted('prompts')).toContain('types/Mutation/fields/publishPromptRunEvent');
    for (const name of ['ledger', 'kernels', 'memory']) {
      expect(granted(name), name).toContain('types/Mutation/fields/publishSpan');
      expect(granted(name), name).not.toContain('publishPromptRunEvent');
    }
  });

  it('kernel passes, the memory reaper and ledger checkpoints run on EventBridge schedules', () => {
    // When the rules and their targets are read
    const rules = Object.values(resourcesOf(api, 'AWS::Events::Rule')).map((rule) => rule.Properties ?? {});
    const target = (job: string) => ({ 'Fn::GetAtt': [deployed(deployment.api.scheduled.get(job)).logicalId, 'Arn'] });
    // Then each scheduled job has its rate and calls its own handler of the data source's code
    const jobs = Object.values(DATA_SOURCE_NEEDS).flatMap((needs) => needs.schedules ?? []);
    expect(jobs.map((job) => job.id).sort()).toEqual(['KernelPasses', 'LedgerCheckpoints', 'MemoryReaper']);
    for (const job of jobs) {
      const rule = rules.find((candidate) => JSON.stringify(candidate.Targets).includes(JSON.stringify(target(job.id))));
      expect(rule?.ScheduleExpression, job.id).toBe(`rate(${job.every.toMinutes()} minute${job.every.toMinutes() === 1 ? '' : 's'})`);
      expect(deployed(deployment.api.scheduled.get(job.id)).properties.Handler, job.id).toBe(`index.${job.handler}`);
    }
    expect(deployed(deployment.api.scheduled.get('KernelPasses')).variables).toHaveProperty('LOGLINEOS_SANDBOX_WORKER');
  });
});
