import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { alterSpan, startTamperingServer, type TamperingServer } from './tampering-server.ts';
import { APPEND, BUILD_AND_START_MS, launchChromium, screenshot, signIn, startConsoleServer, type Appended, type ConsoleServer } from './support.ts';

describe('the console timeline in Chromium', () => {
  let server: ConsoleServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchChromium()]);
  }, BUILD_AND_START_MS);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test('a span appended through the API shows within a second, verifies green, and a colleague in another tenant never sees it', async () => {
    // Given alice (tenant acme) and bob (tenant globex) watching the live timeline
    const [alice, bob] = await Promise.all([signIn(browser, server.origin, 'alice', 'acme'), signIn(browser, server.origin, 'bob', 'globex')]);
    await Promise.all([alice.getByTestId('status').filter({ hasText: 'live' }).waitFor(), bob.getByTestId('status').filter({ hasText: 'live' }).waitFor()]);
    const aliceToken = await server.issuer.issue({ user: 'alice', tenant: 'acme' });
    const bobToken = await server.issuer.issue({ user: 'bob', tenant: 'globex' });
    const text = `console check ${randomUUID()}`;

    // When alice's app appends a tenant span through the API
    const { appendSpan: span } = await server.graphql<Appended>(aliceToken, APPEND, { input: { entityType: 'note', who: 'user:alice', did: 'wrote', this: text, visibility: 'tenant' } });

    // Then it is on alice's timeline within a second
    await alice.locator(`tr[data-span-id="${span.id}"]`).waitFor({ timeout: 1_000 });
    await expect(alice.locator(`tr[data-span-id="${span.id}"] td.this`).textContent()).resolves.toBe(text);

    // and its Verify button checks hash, signature and inclusion proof in the browser: green
    await alice.locator(`tr[data-span-id="${span.id}"]`).click();
    await alice.getByTestId('verify').click();
    const verdict = alice.getByTestId('verdict');
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-ok')).toBe('true');
    expect(await verdict.textContent()).toContain(`inclusion ✓ leaf ${span.chainSeq - 1}`);
    expect(await alice.getByTestId('canonical').textContent()).toContain(`"this":${JSON.stringify(text)}`);
    expect((await screenshot(alice, 'console-timeline')).subarray(1, 4).toString()).toBe('PNG');

    // and bob, in globex, sees his own later span but never alice's
    const { appendSpan: marker } = await server.graphql<Appended>(bobToken, APPEND, { input: { entityType: 'note', who: 'user:bob', did: 'wrote', this: 'globex marker', visibility: 'tenant' } });
    await bob.locator(`tr[data-span-id="${marker.id}"]`).waitFor({ timeout: 5_000 });
    expect(await bob.locator(`tr[data-span-id="${span.id}"]`).count()).toBe(0);
    expect(await bob.getByTestId('timeline').textContent()).not.toContain(text);
  });

  test('the Verify button turns red on a span that a tampering server altered', async () => {
    // Given the console reached through a server that rewrites one span's text in every answer
    const id = randomUUID();
    let tampering: TamperingServer | undefined;
    try {
      tampering = await startTamperingServer(server.origin, alterSpan(id, 'nothing happened here'));
      const page = await signIn(browser, tampering.origin, 'alice', 'acme');
      await page.getByTestId('status').filter({ hasText: 'live' }).waitFor();
      const token = await server.issuer.issue({ user: 'alice', tenant: 'acme' });

      // When alice appends the span and opens it
      await server.graphql<Appended>(token, APPEND, { input: { id, entityType: 'note', who: 'user:alice', did: 'paid', this: 'invoice 42 paid', visibility: 'tenant' } });
      await page.locator(`tr[data-span-id="${id}"]`).click({ timeout: 5_000 });
      await page.getByTestId('verify').click();

      // Then the browser's own check fails and says why
      const verdict = page.getByTestId('verdict');
      await verdict.waitFor();
      expect(await verdict.getAttribute('data-ok')).toBe('false');
      expect(await verdict.textContent()).toMatch(/hash ✗ the content hashes to [0-9a-f]{64}, not to its curr_hash [0-9a-f]{64}: the span was altered/);
      expect(await page.getByTestId('span-detail').textContent()).toContain('nothing happened here');
      await screenshot(page, 'console-verify-tampered');
    } finally {
      await tampering?.close();
    }
  });
});
