import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../local/console.ts';
import { startTestServer, type TestServer } from '../support/api.ts';

/*
 * The console in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against the
 * real local server. The flags are the machine notes': on this closed network Chromium's background
 * connections are refused, and as root it needs --no-sandbox.
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Screenshots go to .tmp/screenshots, or to docs/images with LOGLINEOS_SCREENSHOTS=docs/images (what the README shows). */
const SCREENSHOT_DIR = resolve(process.env.LOGLINEOS_SCREENSHOTS ?? '.tmp/screenshots');

/**
 * beforeAll's budget: the first file to start builds the console when it is stale (npm install's
 * prepare normally has), and the other waits for that build, on a machine that may be busy.
 */
export const BUILD_AND_START_MS = 240_000;

export interface ConsoleServer extends TestServer {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** POSTs GraphQL as the bearer of a token; throws on errors. */
  graphql<T>(token: string, query: string, variables?: Record<string, unknown>): Promise<T>;
}

/** The local server with the console on a fresh test database; the console is built once per run. */
export async function startConsoleServer(): Promise<ConsoleServer> {
  await ensureConsoleBuilt();
  const server = await startTestServer({ console: {}, keepAliveMs: 1000 });
  return {
    ...server,
    origin: new URL(server.url).origin,
    async graphql<T>(token: string, query: string, variables?: Record<string, unknown>) {
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: token }, body: JSON.stringify({ query, variables }) });
      const body = (await response.json()) as { data?: T; errors?: unknown[] };
      if (body.errors?.length || !body.data) throw new Error(`GraphQL failed: ${JSON.stringify(body.errors)}`);
      return body.data;
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

/** Opens the console at `origin` in a new browser context and signs in through the local issuer. */
export async function signIn(browser: Browser, origin: string, user: string, tenant: string | null): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  const page = await context.newPage();
  await page.goto(`${origin}/console/`);
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Tenant').fill(tenant ?? '');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('who').waitFor();
  return page;
}

/** Saves a screenshot and returns its bytes (so a test can check it is a picture). */
export async function screenshot(page: Page, name: string): Promise<Buffer> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const bytes = await page.screenshot();
  writeFileSync(join(SCREENSHOT_DIR, `${name}.png`), bytes);
  return bytes;
}

export const APPEND = `mutation Append($input: SpanInput!) { appendSpan(input: $input) { id seq chainSeq currHash } }`;
export interface Appended {
  appendSpan: { id: string; seq: number; chainSeq: number; currHash: string };
}
