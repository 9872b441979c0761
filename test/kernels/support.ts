import { randomBytes } from 'node:crypto';
import type { Identity } from '../../functions/commons/db/index.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

export interface KernelTestApi extends TestApi {
  /** The suffix user() and identity() add to names, unique to this file. */
  readonly suffix: string;
  identity(name: string, tenant: string | null): Identity;
  /** A signed-in user of a tenant, as GraphQL headers. */
  user(name: string, tenant: string | null, groups?: string[]): Promise<Record<string, string>>;
  gql<T = Record<string, unknown>>(headers: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<{ data: T | null; errors: { errorType: string; message: string; errorInfo?: unknown }[] | undefined }>;
  define(headers: Record<string, string>, name: string, code: string, extra?: Record<string, unknown>): Promise<{ id: string; seq: number }>;
  run(headers: Record<string, string>, id: string, input?: unknown, field?: 'runKernel' | 'bootKernel'): Promise<{ data: { status: string; output: string | null; error: string | null; execution: { id: string; status: string; error: string | null; durationMs: number | null; traceId: string | null; parentId: string } | null; bootEvent: { id: string } | null } | null; errors: { errorType: string; message: string; errorInfo?: unknown }[] | undefined }>;
}

export const RUN_FIELDS = 'status output error execution { id status error durationMs traceId parentId } bootEvent { id }';

export async function startKernelApi(): Promise<KernelTestApi> {
  const api = await startTestApi();
  const suffix = randomBytes(3).toString('hex');
  const gql: KernelTestApi['gql'] = async (headers, query, variables) => {
    const { body } = await api.request(headers, query, variables);
    return { data: (body.data ?? null) as never, errors: body.errors as never };
  };
  return {
    ...api,
    suffix,
    gql,
    identity: (name, tenant) => ({ userId: `${name}-${suffix}`, tenantId: tenant === null ? null : `${tenant}-${suffix}` }),
    async user(name, tenant, groups = []) {
      return { authorization: await api.token(`${name}-${suffix}`, tenant === null ? null : `${tenant}-${suffix}`, groups) };
    },
    async define(headers, name, code, extra = {}) {
      const { data, errors } = await gql<{ defineKernel: { id: string; seq: number } }>(headers, 'mutation D($input: KernelInput!) { defineKernel(input: $input) { id seq } }', { input: { name, code, ...extra } });
      if (!data?.defineKernel) throw new Error(`defineKernel failed: ${JSON.stringify(errors)}`);
      return data.defineKernel;
    },
    async run(headers, id, input = null, field = 'runKernel') {
      const result = await gql<Record<string, never>>(headers, `mutation R($id: ID!, $input: AWSJSON) { ${field}(id: $id, input: $input) { ${RUN_FIELDS} } }`, { id, input: JSON.stringify(input) });
      return { data: (result.data?.[field] ?? null) as never, errors: result.errors };
    },
  };
}
