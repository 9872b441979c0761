import { Ajv, type ValidateFunction } from 'ajv';
import { LRUCache } from 'lru-cache';
import addFormatsModule from 'ajv-formats';
import type { Queryable } from '../commons/db/index.ts';
import { ValidationError } from '../commons/errors.ts';
import { latestVersion } from '../ledger/index.ts';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const compiled = new LRUCache<string, ValidateFunction>({ max: 500 });

/**
 * Checks content against the JSON schema of a `memory_contract` span the caller can read: the
 * span's `content.schema`, or its whole `content`. Compiled schemas are kept per (id, seq).
 */
export async function checkContract(tx: Queryable, schemaId: string, content: unknown): Promise<void> {
  const contract = await latestVersion(tx, schemaId);
  if (!contract || contract.entityType !== 'memory_contract' || contract.isDeleted) {
    throw new ValidationError('schemaId', schemaId, 'is not a memory_contract span you can read', 'Send the id of a memory_contract span (its content holds the JSON schema), or leave schemaId out.');
  }
  const key = `${contract.id}:${contract.seq}`;
  let validate = compiled.get(key);
  if (!validate) {
    const body = contract.content as { schema?: unknown } | null;
    const schema = body && typeof body === 'object' && !Array.isArray(body) && 'schema' in body ? body.schema : body;
    try {
      validate = ajv.compile(schema as object);
    } catch (error) {
      throw new ValidationError('schemaId', schemaId, `names a contract whose JSON schema does not compile (${error instanceof Error ? error.message : 'error'})`, 'Fix the contract with a new version, or use another schemaId.');
    }
    compiled.set(key, validate);
  }
  if (!validate(content)) {
    const problems = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
    throw new ValidationError('content', 'content', `does not match the contract ${schemaId}: ${problems}`, 'Change the content to match the contract\'s JSON schema.');
  }
}
