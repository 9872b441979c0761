import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BUILD_AND_START_MS, launchChromium, screenshot, signIn, startConsoleServer, type ConsoleServer } from './support.ts';

/** Runs in the page: records the answer's state and chunk count at every change of the DOM. */
const WATCH_ANSWER = `(() => {
  window.chunkStates = [];
  new MutationObserver(() => {
    const answer = document.querySelector('[data-testid="answer"]');
    if (answer) window.chunkStates.push(answer.getAttribute('data-state') + ':' + answer.getAttribute('data-chunks'));
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
})()`;

const REMEMBER = `mutation Remember($input: MemoryInput!) { upsertMemory(input: $input) { id } }`;

describe('the console pages in Chromium', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let memoryId: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchChromium()]);
    const token = await server.issuer.issue({ user: 'carol', tenant: 'acme' });
    ({ upsertMemory: { id: memoryId } } = await server.graphql<{ upsertMemory: { id: string } }>(token, REMEMBER, {
      input: { content: JSON.stringify('Carol prefers green tea'), type: 'preference', layer: 'permanent', consent: 'on' },
    }));
    page = await signIn(browser, server.origin, 'carol', 'acme');
  }, BUILD_AND_START_MS);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("a prompt's answer streams in chunk by chunk, and its citations open the cited span", async () => {
    // Given the prompts page, watching how many chunks the answer shows each time it changes
    await page.goto(`${server.origin}/console/#/prompts`);
    await page.evaluate(WATCH_ANSWER);

    // When carol asks a question her memories answer
    await page.getByLabel('Ask').fill('What tea does Carol like?');
    await page.getByRole('button', { name: 'Run', exact: true }).click();

    // Then the answer arrives in several chunks before the final result, which cites her memory
    await page.locator('[data-testid="answer"][data-state="done"]').waitFor({ timeout: 20_000 });
    const states = (await page.evaluate('window.chunkStates')) as string[];
    const streamed = new Set(states.filter((s) => s.startsWith('streaming:') && s !== 'streaming:0'));
    expect(streamed.size).toBeGreaterThan(1);
    expect(Number(await page.getByTestId('answer').getAttribute('data-chunks'))).toBeGreaterThan(1);
    expect(await page.getByTestId('answer').textContent()).toContain('green tea');
    await screenshot(page, 'console-prompts');
    await page.getByTestId('prompt-result').getByRole('button', { name: memoryId.slice(0, 8) }).click();
    await expect(page.getByTestId('span-detail').locator('h2').textContent()).resolves.toBe(`Span ${memoryId}`);
  });

  test('memory search shows scores and cites spans; kernels run; GraphiQL queries as the caller', async () => {
    // Memory: the hit for carol's memory, with its score and a link to its span
    await page.goto(`${server.origin}/console/#/memory`);
    await page.getByPlaceholder('what tea does alice like').fill('green tea');
    await page.getByRole('button', { name: 'Search' }).click();
    const hit = page.getByTestId('memory-hits').locator('tbody tr').first();
    await hit.waitFor();
    expect(await hit.textContent()).toMatch(/^\d\.\d{3}.*Carol prefers green tea/);
    await screenshot(page, 'console-memory');

    // Kernels: define one through the form and run it
    await page.goto(`${server.origin}/console/#/kernels`);
    await page.getByLabel('Name', { exact: true }).fill('greet');
    await page.getByRole('button', { name: 'Define' }).click();
    await page.getByRole('heading', { name: 'greet' }).waitFor();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const run = page.getByTestId('run-result');
    await run.waitFor({ timeout: 20_000 });
    expect(await run.textContent()).toMatch(/^complete in \d+ ms · output \{"hi":"bob"\}/);
    await screenshot(page, 'console-kernels');

    // GraphQL: the bundled GraphiQL sends carol's token
    await page.goto(`${server.origin}/console/#/graphql`);
    // The run button does nothing until Monaco holds the query.
    await page.locator('.graphiql-query-editor .view-lines').filter({ hasText: 'Recent' }).waitFor({ timeout: 20_000 });
    await page.locator('.graphiql-execute-button').click();
    const response = page.locator('.graphiql-response');
    await response.filter({ hasText: 'edges' }).waitFor({ timeout: 10_000 });
    expect(await response.textContent()).not.toMatch(/Unauthorized|errorType/);
    await screenshot(page, 'console-graphql');
  });
});
