import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { forgetMemory, getMemory, searchMemories, sessionMemories, upsertMemory } from '../../functions/memory/index.ts';
import { entryKey, epochKey } from '../../functions/memory/cache.ts';
import { persona } from '../support/ledger.ts';
import { ON, openTestMemory, type TestMemory } from './support.ts';

/*
 * The memory cache on a Redis of this test's own (started here on a free port, never the shared
 * one): reads and session indexes are cached per tenant and user, writes and forgets invalidate, and
 * when Redis stops answers stay right and nothing fails.
 */

let redisProcess: ChildProcess | undefined;
let port = 0;
let m: TestMemory;
let inspect: Redis;

beforeAll(async () => {
  port = await freePort();
  redisProcess = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  inspect = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  inspect.on('error', () => undefined); // this test stops its Redis on purpose
  for (let attempt = 0; ; attempt += 1) {
    try {
      await inspect.connect();
      break;
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  m = await openTestMemory({ REDIS_URL: `redis://127.0.0.1:${port}` });
});
afterAll(async () => {
  inspect.disconnect();
  await m.close();
  redisProcess?.kill('SIGKILL');
});

describe('with Redis up', () => {
  test('given a read, then the entry is cached under the reader tenant and user, and a forget makes it unreadable at once', async () => {
    const alice = persona('alice', 'acme');
    const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
    const memory = await upsertMemory(m, alice, { content: 'team lunch on Fridays', visibility: 'tenant' }, ON);
    expect((await getMemory(m, bob, memory.id))?.content).toBe('team lunch on Fridays');
    const cached = await inspect.get(entryKey(bob, `m:${memory.id}`));
    expect(cached).toContain('team lunch on Fridays');
    expect(entryKey(bob, 'x')).toContain(`t:${encodeURIComponent(bob.tenantId!)}:u:${encodeURIComponent(bob.userId)}`);
    await forgetMemory(m, alice, memory.id);
    expect(await getMemory(m, bob, memory.id)).toBeNull();
    expect(await getMemory(m, alice, memory.id)).toBeNull();
  });

  test('given a cached session index, when the session gets a new memory, then the index shows it', async () => {
    const alice = persona('alice', 'acme');
    const first = await upsertMemory(m, alice, { content: 'one', layer: 'session', sessionId: 'c-1' }, ON);
    expect((await sessionMemories(m, alice, 'c-1')).map((x) => x.id)).toEqual([first.id]);
    expect(await inspect.exists(entryKey(alice, 's:c-1'))).toBe(1);
    const second = await upsertMemory(m, alice, { content: 'two', layer: 'session', sessionId: 'c-1' }, ON);
    expect((await sessionMemories(m, alice, 'c-1')).map((x) => x.id).sort()).toEqual([first.id, second.id].sort());
  });

  test('a public memory read by another tenant is not cached for them (their key could not be invalidated by its tenant)', async () => {
    const alice = persona('alice', 'acme');
    const gary = persona('gary', 'globex');
    const memory = await upsertMemory(m, alice, { content: 'open data portal url', visibility: 'public' }, ON);
    expect((await getMemory(m, gary, memory.id))?.content).toBe('open data portal url');
    expect(await inspect.exists(entryKey(gary, `m:${memory.id}`))).toBe(0);
  });
});

describe('secret memories in the cache', () => {
  test('given a cached secret memory, then its entry holds ciphertext and never the key salt', async () => {
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(m, alice, { content: 'the vault pin is 4711', sensitivity: 'secret' }, ON);
    expect((await getMemory(m, alice, memory.id))?.content).toBe('the vault pin is 4711');
    const cached = await inspect.get(entryKey(alice, `m:${memory.id}`));
    const [row] = await m.ledger.db.withOwner((tx) => tx.query<{ salt: string }>("select encode(key_salt, 'base64') as salt from ledger.memory_index where id = $1", [memory.id]));
    expect(cached).not.toBeNull();
    expect(cached).not.toContain('4711');
    expect(cached).not.toContain(row!.salt);
    expect(cached).not.toContain('salt');
    // and once forgotten, a read never opens it, even through the cache
    await forgetMemory(m, alice, memory.id);
    expect(await getMemory(m, alice, memory.id)).toBeNull();
  });
});

describe('when the epoch bump fails while Redis is up', () => {
  /** Memory services of "another process" on the same database and key folder, as a Redis user with limited commands. */
  async function processAs(user: string, denied: readonly string[]): Promise<TestMemory> {
    await inspect.call('ACL', 'SETUSER', user, 'reset', 'on', '>pw', '~*', '&*', '+@all', ...denied.map((command) => `-${command}`));
    return openTestMemory({ REDIS_URL: `redis://${user}:pw@127.0.0.1:${port}`, LOGLINEOS_DATA_DIR: m.dataDir }, {}, m.ledger);
  }

  test('given a reader with a cached entry, when a forget cannot bump the epoch, then the stale entries are deleted and no process serves the memory', async () => {
    const writer = await processAs('noincr', ['incr']);
    try {
      const alice = persona('alice', 'acme');
      const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
      const memory = await upsertMemory(m, alice, { content: 'the door code changes weekly', visibility: 'tenant' }, ON);
      expect((await getMemory(m, bob, memory.id))?.content).toBe('the door code changes weekly');
      expect(await inspect.exists(entryKey(bob, `m:${memory.id}`))).toBe(1);
      // when alice forgets it through a process whose INCR is refused
      await forgetMemory(writer, alice, memory.id);
      // then bob's entry is gone, and neither process serves the memory
      expect(await inspect.exists(entryKey(bob, `m:${memory.id}`))).toBe(0);
      expect(await getMemory(m, bob, memory.id)).toBeNull();
      expect(await getMemory(writer, bob, memory.id)).toBeNull();
    } finally {
      await writer.close();
    }
  });

  test('when neither the bump nor the deletion works, then this process skips the tenant cache until a bump succeeds', async () => {
    const writer = await processAs('readonly', ['incr', 'del', 'unlink', 'scan']);
    try {
      const alice = persona('alice', 'acme');
      const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
      const memory = await upsertMemory(m, alice, { content: 'parking is on level 3', visibility: 'tenant' }, ON);
      // given bob's read cached by this process
      expect((await getMemory(writer, bob, memory.id))?.content).toBe('parking is on level 3');
      expect(await inspect.exists(entryKey(bob, `m:${memory.id}`))).toBe(1);
      // when alice forgets it here and Redis refuses both the bump and the deletion
      await forgetMemory(writer, alice, memory.id);
      expect(await inspect.exists(entryKey(bob, `m:${memory.id}`))).toBe(1);
      // then this process does not serve the stale entry
      expect(await getMemory(writer, bob, memory.id)).toBeNull();
      // and once Redis accepts the bump again, the tenant's cache is used again
      const epoch = Number((await inspect.get(epochKey(alice.tenantId))) ?? 0);
      await inspect.call('ACL', 'SETUSER', 'readonly', '+incr');
      const next = await upsertMemory(m, alice, { content: 'visitors park on level 1', visibility: 'tenant' }, ON);
      expect((await getMemory(writer, bob, next.id))?.content).toBe('visitors park on level 1');
      expect(Number(await inspect.get(epochKey(alice.tenantId)))).toBeGreaterThan(epoch);
      expect(await inspect.exists(entryKey(bob, `m:${next.id}`))).toBe(1);
    } finally {
      await writer.close();
    }
  });
});

describe('when Redis stops mid-test', () => {
  test('reads, writes, searches and forgets stay correct and never fail', async () => {
    const alice = persona('alice', 'acme');
    const before = await upsertMemory(m, alice, { content: 'the boiler service is in May', visibility: 'tenant' }, ON);
    expect((await getMemory(m, alice, before.id))?.content).toBe('the boiler service is in May');

    redisProcess?.kill('SIGKILL');
    await new Promise((resolve) => redisProcess?.once('exit', resolve));

    expect((await getMemory(m, alice, before.id))?.content).toBe('the boiler service is in May');
    const after = await upsertMemory(m, alice, { content: 'the boiler needs a new filter', sessionId: 'c-9', layer: 'session' }, ON);
    expect((await getMemory(m, alice, after.id))?.content).toBe('the boiler needs a new filter');
    expect((await sessionMemories(m, alice, 'c-9')).map((x) => x.id)).toEqual([after.id]);
    expect((await searchMemories(m, alice, { query: 'boiler', sessionId: 'c-9' })).map((h) => h.spanId)).toEqual([after.id, before.id]);
    await forgetMemory(m, alice, before.id);
    expect(await getMemory(m, alice, before.id)).toBeNull();
    expect((await searchMemories(m, alice, { query: 'boiler', sessionId: 'c-9' })).map((h) => h.spanId)).toEqual([after.id]);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
}
