import { statSync } from 'node:fs';
import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { appendSpan } from '../../functions/ledger/index.ts';
import { getMemory, hashEmbedding, searchMemories, upsertMemory, type MemoryInput } from '../../functions/memory/index.ts';
import { localKeyFile } from '../../functions/memory/keys.ts';
import { persona } from '../support/ledger.ts';
import { ON, everythingStored, memoryRowCounts, openTestMemory, type TestMemory } from './support.ts';

/*
 * Writing memories (SPEC §5): consent, validation (nothing written on refusal), the two spans of a
 * write, encryption with local and KMS keys (fail closed), and embeddings from Bedrock.
 */

let m: TestMemory;
beforeAll(async () => {
  m = await openTestMemory();
});
afterAll(() => m.close());

const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as Error & { errorType?: string; errorInfo?: Record<string, unknown> };
  }
  throw new Error('expected a refusal');
};

describe('consent', () => {
  test('given no header and no argument, when remembering, then MemoryDisabled and nothing is written', async () => {
    const alice = persona('alice', 'acme');
    const before = await memoryRowCounts(m.ledger.db);
    const error = await errorOf(upsertMemory(m, alice, { content: 'likes tea' }, {}));
    expect(error.errorType).toBe('MemoryDisabled');
    expect(error.message).toMatch(/nothing was written.*X-LogLine-Memory: on/);
    expect(await memoryRowCounts(m.ledger.db)).toEqual(before);
  });

  test('given X-LogLine-Memory: off, or the argument off, when remembering, then MemoryDisabled', async () => {
    const alice = persona('alice', 'acme');
    const before = await memoryRowCounts(m.ledger.db);
    expect((await errorOf(upsertMemory(m, alice, { content: 'x' }, { 'x-logline-memory': 'off' }))).errorType).toBe('MemoryDisabled');
    expect((await errorOf(upsertMemory(m, alice, { content: 'x', consent: 'off' }, ON))).errorType).toBe('MemoryDisabled');
    expect(await memoryRowCounts(m.ledger.db)).toEqual(before);
  });

  test('given session-only, when remembering with another layer, then it is a session memory of 24 h', async () => {
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(m, alice, { content: 'in this chat we talk about trains', layer: 'permanent' }, { 'x-logline-memory': 'session-only', 'x-logline-session': 'chat-1' });
    expect(memory).toMatchObject({ layer: 'session', sessionId: 'chat-1', ttlSeconds: 86_400 });
    expect(Date.parse(memory.expiresAt!) - Date.parse(memory.at)).toBe(86_400_000);
  });

  test('given session-only and no session, when remembering, then a ValidationError names sessionId', async () => {
    const error = await errorOf(upsertMemory(m, persona('alice', 'acme'), { content: 'x' }, { 'x-logline-memory': 'session-only' }));
    expect(error.errorInfo?.field).toBe('sessionId');
  });

  test('given the header on and the argument session-only, when remembering, then the stricter session-only applies', async () => {
    const memory = await upsertMemory(m, persona('alice', 'acme'), { content: 'x', consent: 'session-only', sessionId: 's-2' }, ON);
    expect(memory.layer).toBe('session');
  });

  test('given on, when remembering any layer, then the layer is kept', async () => {
    const alice = persona('alice', 'acme');
    for (const layer of ['temporary', 'permanent', 'shared', 'local']) {
      expect((await upsertMemory(m, alice, { content: `a ${layer} memory`, layer }, ON)).layer).toBe(layer);
    }
  });
});

describe('validation: each refusal names the field, the value and the fix, and nothing is written', () => {
  const cases: [string, MemoryInput, Record<string, string>?][] = [
    ['X-LogLine-Memory', { content: 'x' }, { 'x-logline-memory': 'maybe' }],
    ['content', {}],
    ['content', { content: '   ' }],
    ['content', { content: 'x'.repeat(70_000) }],
    ['id', { content: 'x', id: 'not-a-uuid' }],
    ['layer', { content: 'x', layer: 'forever' }],
    ['type', { content: 'x', type: 'thing' }],
    ['sensitivity', { content: 'x', sensitivity: 'top' }],
    ['visibility', { content: 'x', visibility: 'world' }],
    ['visibility', { content: 'x', sensitivity: 'secret', visibility: 'public' }],
    ['visibility', { content: 'x', layer: 'session', sessionId: 's', visibility: 'tenant' }],
    ['tags[0]', { content: 'x', tags: ['Bad Tag'] }],
    ['tags', { content: 'x', tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }],
    ['schemaId', { content: 'x', schemaId: 'nope' }],
    ['ttlSeconds', { content: 'x', ttlSeconds: 5 }],
    ['ttlSeconds', { content: 'x', ttlSeconds: 1.5 }],
    ['ttlSeconds', { content: 'x', layer: 'permanent', ttlSeconds: 3600 }],
    ['sessionId', { content: 'x', layer: 'session' }],
    ['sessionId', { content: 'x', sessionId: 'bad id!' }],
    ['embedding', { content: 'x', embedding: [1, 2, 3] }],
    ['embedding', { content: 'x', sensitivity: 'secret', embedding: hashEmbedding('x', 1536) }],
  ];
  test.each(cases)('%s: %j', async (field, input, headers = ON) => {
    const before = await memoryRowCounts(m.ledger.db);
    const error = await errorOf(upsertMemory(m, persona('alice', 'acme'), input, headers));
    expect(error.errorType).toBe('ValidationError');
    expect(error.errorInfo).toMatchObject({ field });
    expect(String(error.errorInfo?.fix)).not.toBe('');
    expect(error.message).toContain('(got ');
    expect(await memoryRowCounts(m.ledger.db)).toEqual(before);
  });

  test('a schema id that is not a memory_contract span, and content that breaks a contract, are refused', async () => {
    const alice = persona('alice', 'acme');
    const note = await appendSpan(m.ledger, alice, { entityType: 'note', who: 'test', did: 'wrote', this: 'x' });
    const contract = await appendSpan(m.ledger, alice, {
      entityType: 'memory_contract', who: 'test', did: 'defined', this: 'contract.preference',
      content: { schema: { type: 'object', required: ['text', 'strength'], properties: { text: { type: 'string' }, strength: { type: 'integer', minimum: 1, maximum: 5 } } } },
    });
    const before = await memoryRowCounts(m.ledger.db);
    expect((await errorOf(upsertMemory(m, alice, { content: { text: 'x', strength: 3 }, schemaId: note.id }, ON))).errorInfo?.field).toBe('schemaId');
    const broken = await errorOf(upsertMemory(m, alice, { content: { text: 'x', strength: 9 }, schemaId: contract.id }, ON));
    expect(broken.errorInfo?.field).toBe('content');
    expect(broken.message).toContain('/strength must be <= 5');
    expect(await memoryRowCounts(m.ledger.db)).toEqual(before);
    const kept = await upsertMemory(m, alice, { content: { text: 'likes jasmine tea', strength: 4 }, schemaId: contract.id }, ON);
    expect(kept.schemaId).toBe(contract.id);
  });
});

describe('what a write stores', () => {
  test('a memory span and a memory_audit span, in one transaction', async () => {
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(m, alice, { content: { text: 'prefers aisle seats' }, type: 'preference', tags: ['travel'] }, ON);
    const rows = await m.ledger.db.withOwner((tx) =>
      tx.query<{ entity_type: string; this: string; tx_id: string; layer: string | null; tags: string[] | null; metadata: Record<string, unknown> | null }>(
        "select entity_type, \"this\", tx_id::text, layer, tags, metadata from ledger.universal_registry where id = $1 or parent_id = $1 order by position",
        [memory.id],
      ),
    );
    expect(rows.map((r) => r.entity_type)).toEqual(['memory', 'memory_audit']);
    expect(rows[0]).toMatchObject({ this: 'memory.preference', layer: 'temporary', tags: ['travel'] });
    expect(rows[1]?.metadata).toMatchObject({ action: 'upserted', memoryId: memory.id, consent: 'on' });
    expect(rows[0]?.tx_id).toBe(rows[1]?.tx_id);
  });

  test('an upsert with id appends the next version of your memory; another user cannot', async () => {
    const alice = persona('alice', 'acme');
    const first = await upsertMemory(m, alice, { content: 'lives in Lisbon', visibility: 'tenant' }, ON);
    const second = await upsertMemory(m, alice, { id: first.id, content: 'lives in Porto', visibility: 'tenant' }, ON);
    expect(second).toMatchObject({ id: first.id, seq: 1, content: 'lives in Porto' });
    const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
    expect((await errorOf(upsertMemory(m, bob, { id: first.id, content: 'x', visibility: 'tenant' }, ON))).errorType).toBe('Forbidden');
    const raised = await errorOf(upsertMemory(m, alice, { id: first.id, content: 'x', visibility: 'tenant', sensitivity: 'pii' }, ON));
    expect(raised.errorInfo).toMatchObject({ field: 'sensitivity' });
  });

  test('secret content is sealed with AES-256-GCM: the owner reads it back, no row holds it, the local key file is 0600', async () => {
    const alice = persona('alice', 'acme');
    const secret = `pin-${alice.userId}-4711`;
    const memory = await upsertMemory(m, alice, { content: { text: secret }, sensitivity: 'secret' }, ON);
    expect(memory.encrypted).toBe(true);
    expect((await getMemory(m, alice, memory.id))?.content).toEqual({ text: secret });
    expect(await everythingStored(m.ledger.db)).not.toContain(secret);
    const [row] = await m.ledger.db.withOwner((tx) => tx.query<{ content: { encrypted: Record<string, string> }; enc_alg: string }>('select content, enc_alg from ledger.universal_registry where id = $1', [memory.id]));
    expect(row?.enc_alg).toBe('AES-256-GCM');
    expect(Object.keys(row!.content.encrypted).sort()).toEqual(['ciphertext', 'iv', 'tag']);
    expect(statSync(localKeyFile(m.dataDir)).mode & 0o777).toBe(0o600);
  });
});

describe('KMS data keys (AWS)', () => {
  const kms = mockClient(KMSClient);
  let k: TestMemory;
  const dataKey = Buffer.alloc(32, 7);
  beforeAll(async () => {
    k = await openTestMemory({ MEMORY_KMS_KEY_ID: 'alias/loglineos-memory' });
  });
  afterAll(async () => {
    await k.close();
    kms.restore();
  });
  afterEach(() => kms.reset());

  test('given KMS answers, when a tenant first writes a secret, then GenerateDataKey makes its key and only the wrapped key is stored', async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: dataKey, CiphertextBlob: Buffer.from('wrapped-by-kms') });
    kms.on(DecryptCommand).resolves({ Plaintext: dataKey });
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(k, alice, { content: 'passport number X1234567', sensitivity: 'pii' }, ON);
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toMatchObject({ KeyId: 'alias/loglineos-memory', KeySpec: 'AES_256', EncryptionContext: { tenant: alice.tenantId } });
    expect((await getMemory(k, alice, memory.id))?.content).toBe('passport number X1234567');
    const [key] = await k.ledger.db.withOwner((tx) => tx.query<{ wrapper: string; wrapped: Uint8Array }>('select wrapper, wrapped from ledger.memory_keys where tenant_key = $1', [alice.tenantId]));
    expect(key?.wrapper).toBe('kms:alias/loglineos-memory');
    expect(Buffer.from(key!.wrapped).toString()).toBe('wrapped-by-kms');
    expect(await everythingStored(k.ledger.db)).not.toContain('X1234567');
  });

  test('given KMS fails, when writing a secret, then EncryptionUnavailable and nothing is written (no plaintext fallback)', async () => {
    kms.on(GenerateDataKeyCommand).rejects(new Error('AccessDeniedException'));
    const before = await memoryRowCounts(k.ledger.db);
    const error = await errorOf(upsertMemory(k, persona('carol', 'initech'), { content: 'card 4111 1111 1111 1111', sensitivity: 'secret' }, ON));
    expect(error.errorType).toBe('EncryptionUnavailable');
    expect(await memoryRowCounts(k.ledger.db)).toEqual(before);
    expect(await everythingStored(k.ledger.db)).not.toContain('4111 1111');
  });
});

describe('Bedrock embeddings (AWS)', () => {
  const bedrock = mockClient(BedrockRuntimeClient);
  let b: TestMemory;
  beforeAll(async () => {
    b = await openTestMemory({ MEMORY_EMBEDDINGS: 'bedrock', MEMORY_EMBEDDING_MODEL: 'amazon.titan-embed-text-v1' });
  });
  afterAll(async () => {
    await b.close();
    bedrock.restore();
  });

  test('given Bedrock answers, when remembering and searching, then its vectors are stored and found', async () => {
    bedrock.on(InvokeModelCommand).callsFake((input: { body: string }) => {
      const { inputText } = JSON.parse(input.body) as { inputText: string };
      return { body: new TextEncoder().encode(JSON.stringify({ embedding: hashEmbedding(inputText, 1536) })) };
    });
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(b, alice, { content: 'the wifi password hint is the cat' }, ON);
    const hits = await searchMemories(b, alice, { query: 'wifi hint' });
    expect(hits[0]?.spanId).toBe(memory.id);
    expect(bedrock.commandCalls(InvokeModelCommand)[0]?.args[0].input).toMatchObject({ modelId: 'amazon.titan-embed-text-v1' });
  });

  test('given Bedrock fails, when remembering, then EmbeddingUnavailable and nothing is written', async () => {
    bedrock.on(InvokeModelCommand).rejects(new Error('ThrottlingException'));
    const before = await memoryRowCounts(b.ledger.db);
    expect((await errorOf(upsertMemory(b, persona('alice', 'acme'), { content: 'x' }, ON))).errorType).toBe('EmbeddingUnavailable');
    expect(await memoryRowCounts(b.ledger.db)).toEqual(before);
  });
});
