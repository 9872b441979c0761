import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { forgetMemory, getMemory, searchMemories, sessionMemories, upsertMemory } from '../../functions/memory/index.ts';
import { entryKey, epochKey } from '../../functions/memory/cache.ts';
import { persona } from '../support/ledger.ts';
import { ON, openTestMemory, startTestRedis, type TestMemory, type TestRedis } from './support.ts';

/*
 * The memory cache on a Redis of this test's own (started here on a unix socket in a fresh folder,
 * never the shared one, with no TCP port to race for): reads and session indexes are cached per
 * tenant and user, writes and forgets invalidate, and when Redis stops answers stay right and nothing
 * fails.
 */

let r: TestRedis | undefined;
let m: TestMemory | undefined;

/** The memory services of this file (opened in beforeAll). */
const mem = (): TestMemory => m!;
const redis = (): Redis => r!.client;

beforeAll(async () => {
  r = await startTestRedis();
  m = await openTestMemory({ REDIS_URL: r.socket });
});
afterAll(async () => {
  await m?.close();
  await r?.close();
});

describe('with Redis up', () => {
  test('given a read, then the entry is cached under the reader tenant and user, and a forget makes it unreadable at once', async () => {
    const alice = persona('alice', 'acme');
    const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
    const memory = await upsertMemory(mem(), alice, { content: 'team lunch on Fridays', visibility: 'tenant' }, ON);
    expect((await getMemory(mem(), bob, memory.id))?.content).toBe('team lunch on Fridays');
    const cached = await redis().get(entryKey(bob, `m:${memory.id}`));
    expect(cached).toContain('team lunch on Fridays');
    expect(entryKey(bob, 'x')).toContain(`t:${encodeURIComponent(bob.tenantId!)}:u:${encodeURIComponent(bob.userId)}`);
    await forgetMemory(mem(), alice, memory.id);
    expect(await getMemory(mem(), bob, memory.id)).toBeNull();
    expect(await getMemory(mem(), alice, memory.id)).toBeNull();
  });

  test('given a cached session index, when the session gets a new memory, then the index shows it', async () => {
    const alice = persona('alice', 'acme');
    const first = await upsertMemory(mem(), alice, { content: 'one', layer: 'session', sessionId: 'c-1' }, ON);
    expect((await sessionMemories(mem(), alice, 'c-1')).map((x) => x.id)).toEqual([first.id]);
    expect(await redis().exists(entryKey(alice, 's:c-1'))).toBe(1);
    const second = await upsertMemory(mem(), alice, { content: 'two', layer: 'session', sessionId: 'c-1' }, ON);
    expect((await sessionMemories(mem(), alice, 'c-1')).map((x) => x.id).sort()).toEqual([first.id, second.id].sort());
  });

  test('a public memory read by another tenant is not cached for them (their key could not be invalidated by its tenant)', async () => {
    const alice = persona('alice', 'acme');
    const gary = persona('gary', 'globex');
    const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
    const memory = await upsertMemory(mem(), alice, { content: 'open data portal url', visibility: 'public' }, ON);
    // given the same read by a user of the owner's tenant is cached (so caching works here)
    expect((await getMemory(mem(), bob, memory.id))?.content).toBe('open data portal url');
    expect(await redis().exists(entryKey(bob, `m:${memory.id}`))).toBe(1);
    // then the other tenant's read is answered but not cached
    expect((await getMemory(mem(), gary, memory.id))?.content).toBe('open data portal url');
    expect(await redis().exists(entryKey(gary, `m:${memory.id}`))).toBe(0);
  });
});

describe('MEMORY_REDIS_COMMAND_TIMEOUT_MS', () => {
  /** Pauses every Redis client (this one's reply comes back first) for `ms`. */
  const pauseRedis = (ms: number) => redis().call('CLIENT', 'PAUSE', String(ms), 'ALL');

  test('given Redis stalls for 600 ms, when the timeout is 5000 ms, then a read waits for it and its entry is cached', async () => {
    const alice = persona('alice', 'acme');
    const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
    const memory = await upsertMemory(mem(), alice, { content: 'the printer is on floor 2', visibility: 'tenant' }, ON);
    await pauseRedis(600);
    expect((await getMemory(mem(), bob, memory.id))?.content).toBe('the printer is on floor 2');
    expect(await redis().exists(entryKey(bob, `m:${memory.id}`))).toBe(1);
  });

  test('given Redis stalls for 1500 ms, when the timeout is 100 ms, then the read goes to the database and nothing is cached', async () => {
    const quick = await openTestMemory({ REDIS_URL: r!.socket, LOGLINEOS_DATA_DIR: mem().dataDir, MEMORY_REDIS_COMMAND_TIMEOUT_MS: '100' }, {}, mem().ledger);
    try {
      const alice = persona('alice', 'acme');
      const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
      const memory = await upsertMemory(mem(), alice, { content: 'the kitchen closes at 3', visibility: 'tenant' }, ON);
      await pauseRedis(1500);
      expect((await getMemory(quick, bob, memory.id))?.content).toBe('the kitchen closes at 3');
      expect(await redis().exists(entryKey(bob, `m:${memory.id}`))).toBe(0);
    } finally {
      await quick.close();
    }
  });

  test('a setting that is not a whole number of 1 or more is refused at start', async () => {
    await expect(openTestMemory({ REDIS_URL: r!.socket, MEMORY_REDIS_COMMAND_TIMEOUT_MS: 'soon' }, {}, mem().ledger)).rejects.toThrow(/MEMORY_REDIS_COMMAND_TIMEOUT_MS/);
  });
});

describe('secret memories in the cache', () => {
  test('given a cached secret memory, then its entry holds ciphertext and never the key salt', async () => {
    const alice = persona('alice', 'acme');
    const memory = await upsertMemory(mem(), alice, { content: 'the vault pin is 4711', sensitivity: 'secret' }, ON);
    expect((await getMemory(mem(), alice, memory.id))?.content).toBe('the vault pin is 4711');
    const cached = await redis().get(entryKey(alice, `m:${memory.id}`));
    const [row] = await mem().ledger.db.withOwner((tx) => tx.query<{ salt: string }>("select encode(key_salt, 'base64') as salt from ledger.memory_index where id = $1", [memory.id]));
    expect(cached).not.toBeNull();
    expect(cached).not.toContain('4711');
    expect(cached).not.toContain(row!.salt);
    expect(cached).not.toContain('salt');
    // and once forgotten, a read never opens it, even through the cache
    await forgetMemory(mem(), alice, memory.id);
    expect(await getMemory(mem(), alice, memory.id)).toBeNull();
  });
});

describe('when the epoch bump fails while Redis is up', () => {
  /** Memory services of "another process" on the same database and key folder, as a Redis user with limited commands. */
  async function processAs(user: string, denied: readonly string[]): Promise<TestMemory> {
    await redis().call('ACL', 'SETUSER', user, 'reset', 'on', '>pw', '~*', '&*', '+@all', ...denied.map((command) => `-${command}`));
    return openTestMemory({ REDIS_URL: `${r!.socket}?username=${user}&password=pw`, LOGLINEOS_DATA_DIR: mem().dataDir }, {}, mem().ledger);
  }

  test('given a reader with a cached entry, when a forget cannot bump the epoch, then the stale entries are deleted and no process serves the memory', async () => {
    const writer = await processAs('noincr', ['incr']);
    try {
      const alice = persona('alice', 'acme');
      const bob = { userId: `bob-${alice.userId}`, tenantId: alice.tenantId };
      const memory = await upsertMemory(mem(), alice, { content: 'the door code changes weekly', visibility: 'tenant' }, ON);
      expect((await getMemory(mem(), bob, memory.id))?.content).toBe('the door code changes weekly');
      expect(await redis().exists(entryKey(bob, `m:${memory.id}`))).toBe(1);
      // when alice forgets it through a process whose INCR is refused
      await forgetMemory(writer, alice, memory.id);
      // then bob's entry is gone, and neither process serves the memory
      expect(await redis().exists(entryKey(bob, `m:${memory.id}`))).toBe(0);
      expect(await getMemory(mem(), bob, memory.id)).toBeNull();
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
      const memory = await upsertMemory(mem(), alice, { content: 'parking is on level 3', visibility: 'tenant' }, ON);
      // given bob's read cached by this process
      expect((await getMemory(writer, bob, memory.id))?.content).toBe('parking is on level 3');
      expect(await redis().exists(entryKey(bob, `m:${memory.id}`))).toBe(1);
      // when alice forgets it here and Redis refuses both the bump and the deletion
      await forgetMemory(writer, alice, memory.id);
      expect(await redis().exists(entryKey(bob, `m:${memory.id}`))).toBe(1);
      // then this process does not serve the stale entry
      expect(await getMemory(writer, bob, memory.id)).toBeNull();
      // and once Redis accepts the bump again, the tenant's cache is used again
      const epoch = Number((await redis().get(epochKey(alice.tenantId))) ?? 0);
      await redis().call('ACL', 'SETUSER', 'readonly', '+incr');
      const next = await upsertMemory(mem(), alice, { content: 'visitors park on level 1', visibility: 'tenant' }, ON);
      expect((await getMemory(writer, bob, next.id))?.content).toBe('visitors park on level 1');
      expect(Number(await redis().get(epochKey(alice.tenantId)))).toBeGreaterThan(epoch);
      expect(await redis().exists(entryKey(bob, `m:${next.id}`))).toBe(1);
    } finally {
      await writer.close();
    }
  });
});

describe('when Redis stops mid-test', () => {
  test('reads, writes, searches and forgets stay correct and never fail', async () => {
    const alice = persona('alice', 'acme');
    const before = await upsertMemory(mem(), alice, { content: 'the boiler service is in May', visibility: 'tenant' }, ON);
    expect((await getMemory(mem(), alice, before.id))?.content).toBe('the boiler service is in May');

    const exited = new Promise((resolve) => r!.process.once('exit', resolve));
    r!.process.kill('SIGKILL');
    await exited;

    expect((await getMemory(mem(), alice, before.id))?.content).toBe('the boiler service is in May');
    const after = await upsertMemory(mem(), alice, { content: 'the boiler needs a new filter', sessionId: 'c-9', layer: 'session' }, ON);
    expect((await getMemory(mem(), alice, after.id))?.content).toBe('the boiler needs a new filter');
    expect((await sessionMemories(mem(), alice, 'c-9')).map((x) => x.id)).toEqual([after.id]);
    expect((await searchMemories(mem(), alice, { query: 'boiler', sessionId: 'c-9' })).map((h) => h.spanId)).toEqual([after.id, before.id]);
    await forgetMemory(mem(), alice, before.id);
    expect(await getMemory(mem(), alice, before.id)).toBeNull();
    expect((await searchMemories(mem(), alice, { query: 'boiler', sessionId: 'c-9' })).map((h) => h.spanId)).toEqual([after.id]);
  });
});
