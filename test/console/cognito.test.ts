import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { APPEND, BUILD_AND_START_MS, launchChromium, screenshot, startConsoleServer, type Appended, type ConsoleServer } from './support.ts';

/*
 * The console's Cognito sign-in (console/src/cognito.ts) in Chromium, as on AWS: config.json names a
 * user pool, and the browser calls Cognito's public API (USER_PASSWORD_AUTH, then the TOTP challenge).
 * There is no Cognito here, so the test answers at the network boundary, in the browser, what
 * cognito-idp answers (same targets, bodies and error shapes); the ID token it hands out comes from the
 * local issuer, which the local server trusts as AppSync trusts the pool. Everything after that (the
 * session, the live timeline, the tenant's spans) is the real console against the real server.
 */

const POOL = { region: 'eu-west-1', userPoolId: 'eu-west-1_TestPool1', clientId: '5tq3ulo2testclient0000000' };
const USER = { email: 'dana@example.com', password: 'correct horse battery staple', totp: '824153', tenant: 'initech' };

interface CognitoCall {
  readonly target: string;
  readonly body: Record<string, unknown>;
}

/**
 * What cognito-idp answers to the calls the console makes, for one user with TOTP MFA: `signedIn` is
 * the ID token a sign-in hands out, `renewed` the one a refresh token is traded for.
 */
function cognitoEmulator(tokens: { signedIn: () => Promise<string>; renewed: () => Promise<string> }, calls: CognitoCall[]) {
  const sessions = new Set<string>();
  const refreshTokens = new Set<string>();
  const answer = (route: Route, status: number, body: unknown) =>
    route.fulfill({ status, contentType: 'application/x-amz-json-1.1', headers: { 'access-control-allow-origin': '*' }, body: JSON.stringify(body) });
  const ok = (route: Route, body: unknown) => answer(route, 200, body);
  const refuse = (route: Route, type: string, message: string) => answer(route, 400, { __type: type, message });
  return async (route: Route) => {
    const request = route.request();
    if (request.method() === 'OPTIONS') {
      return route.fulfill({ status: 200, headers: { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type,x-amz-target', 'access-control-allow-methods': 'POST' } });
    }
    const target = request.headers()['x-amz-target'] ?? '';
    const body = request.postDataJSON() as Record<string, unknown>;
    calls.push({ target, body });
    if (body.ClientId !== POOL.clientId) return refuse(route, 'ResourceNotFoundException', 'User pool client does not exist.');
    if (target === 'AWSCognitoIdentityProviderService.InitiateAuth' && body.AuthFlow === 'REFRESH_TOKEN_AUTH') {
      const { REFRESH_TOKEN: refreshToken } = body.AuthParameters as { REFRESH_TOKEN?: string };
      if (!refreshTokens.has(String(refreshToken))) return refuse(route, 'NotAuthorizedException', 'Invalid Refresh Token');
      return ok(route, { AuthenticationResult: { IdToken: await tokens.renewed(), AccessToken: 'access', ExpiresIn: 3600, TokenType: 'Bearer' }, ChallengeParameters: {} });
    }
    if (target === 'AWSCognitoIdentityProviderService.InitiateAuth') {
      const parameters = body.AuthParameters as { USERNAME?: string; PASSWORD?: string };
      if (body.AuthFlow !== 'USER_PASSWORD_AUTH') return refuse(route, 'InvalidParameterException', 'USER_PASSWORD_AUTH flow not enabled for this client');
      if (parameters.USERNAME !== USER.email || parameters.PASSWORD !== USER.password) return refuse(route, 'NotAuthorizedException', 'Incorrect username or password.');
      const session = randomUUID();
      sessions.add(session);
      return ok(route, { ChallengeName: 'SOFTWARE_TOKEN_MFA', ChallengeParameters: {}, Session: session });
    }
    if (target === 'AWSCognitoIdentityProviderService.RespondToAuthChallenge') {
      const responses = body.ChallengeResponses as { USERNAME?: string; SOFTWARE_TOKEN_MFA_CODE?: string };
      if (body.ChallengeName !== 'SOFTWARE_TOKEN_MFA' || !sessions.has(String(body.Session))) return refuse(route, 'NotAuthorizedException', 'Invalid session for the user.');
      if (responses.USERNAME !== USER.email || responses.SOFTWARE_TOKEN_MFA_CODE !== USER.totp) return refuse(route, 'CodeMismatchException', 'Invalid code received for user');
      sessions.delete(String(body.Session));
      const refreshToken = `refresh-${randomUUID()}`;
      refreshTokens.add(refreshToken);
      return ok(route, { AuthenticationResult: { IdToken: await tokens.signedIn(), AccessToken: 'access', RefreshToken: refreshToken, ExpiresIn: 3600, TokenType: 'Bearer' }, ChallengeParameters: {} });
    }
    return refuse(route, 'UnknownOperationException', `unknown target ${target}`);
  };
}

describe('the console signed in with Cognito, in Chromium', () => {
  let server: ConsoleServer;
  let browser: Browser;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startConsoleServer(), launchChromium()]);
  }, BUILD_AND_START_MS);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  test('a wrong password and a wrong authenticator code are refused with Cognito\'s reason; the right ones sign in to the tenant\'s live timeline, and an ID token near its expiry is renewed once with the refresh token', async () => {
    // given: config.json as the CDK app writes it on AWS (a user pool), and Cognito answering for dana
    const calls: CognitoCall[] = [];
    context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
    await context.route(`${server.origin}/console/config.json`, async (route) => {
      const local = (await (await route.fetch()).json()) as Record<string, unknown>;
      await route.fulfill({ json: { ...local, cognito: POOL, localIssuer: false } });
    });
    // The sign-in's ID token has two minutes left (inside the console's five-minute renewal margin).
    const renewed: string[] = [];
    const tokens = {
      signedIn: () => server.issuer.issue({ user: USER.email, tenant: USER.tenant, ttlSeconds: 120 }),
      renewed: async () => {
        renewed.push(await server.issuer.issue({ user: USER.email, tenant: USER.tenant, ttlSeconds: 3600 }));
        return renewed.at(-1)!;
      },
    };
    await context.route(`https://cognito-idp.${POOL.region}.amazonaws.com/**`, cognitoEmulator(tokens, calls));
    const sentTokens: string[] = [];
    context.on('request', (request) => {
      if (request.url().endsWith('/graphql') && request.method() === 'POST') sentTokens.push(request.headers().authorization ?? '(none)');
    });
    const colleague = await server.issuer.issue({ user: 'erin', tenant: USER.tenant });
    const page = await context.newPage();
    await page.goto(`${server.origin}/console/`);

    // when: dana types a wrong password
    await page.getByLabel('Email').fill(USER.email);
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // then: Cognito's reason is shown, and no code is asked for
    await expect(page.getByRole('alert').textContent()).resolves.toBe('Cognito refused the sign-in: Incorrect username or password.');
    expect(await page.getByLabel('Authenticator code').count()).toBe(0);

    // when: the right password, then a wrong code
    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authenticator code').fill('000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // then: the code is refused with Cognito's reason
    await page.getByRole('alert').filter({ hasText: 'Invalid code received for user' }).waitFor();

    // when: the right code
    await page.getByLabel('Authenticator code').fill(USER.totp);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // then: she is signed in as herself in her tenant, and the live timeline shows a colleague's new tenant span
    await expect(page.getByTestId('who').textContent()).resolves.toBe(`${USER.email} @ ${USER.tenant}`);
    await page.getByTestId('status').filter({ hasText: 'live' }).waitFor();
    const text = `cognito check ${randomUUID()}`;
    const { appendSpan: span } = await server.graphql<Appended>(colleague, APPEND, { input: { entityType: 'note', who: 'user:erin', did: 'wrote', this: text, visibility: 'tenant' } });
    await page.locator(`tr[data-span-id="${span.id}"]`).waitFor({ timeout: 5_000 });
    await expect(page.locator(`tr[data-span-id="${span.id}"] td.this`).textContent()).resolves.toBe(text);
    await screenshot(page, 'console-cognito');

    // and: the console made exactly Cognito's calls, with the pool's client id and no secret; the
    // ID token about to expire was renewed once (the pages asking at the same time shared it)
    expect(calls.map((call) => `${call.target.replace('AWSCognitoIdentityProviderService.', '')} ${String(call.body.AuthFlow ?? call.body.ChallengeName)}`)).toEqual([
      'InitiateAuth USER_PASSWORD_AUTH',
      'InitiateAuth USER_PASSWORD_AUTH',
      'RespondToAuthChallenge SOFTWARE_TOKEN_MFA',
      'RespondToAuthChallenge SOFTWARE_TOKEN_MFA',
      'InitiateAuth REFRESH_TOKEN_AUTH',
    ]);
    expect(calls.every((call) => call.body.ClientId === POOL.clientId && !('SecretHash' in ((call.body.AuthParameters ?? call.body.ChallengeResponses) as object)))).toBe(true);
    // and: every GraphQL request carried the renewed token, none the one about to expire
    expect(renewed).toHaveLength(1);
    expect(sentTokens.length).toBeGreaterThan(0);
    expect(new Set(sentTokens)).toEqual(new Set(renewed));

    // when: the tab is reloaded, then the session is still there with its renewed token: no new
    // sign-in, no second renewal
    const before = sentTokens.length;
    await page.reload();
    await expect(page.getByTestId('who').textContent()).resolves.toBe(`${USER.email} @ ${USER.tenant}`);
    await page.getByTestId('status').filter({ hasText: 'live' }).waitFor();
    expect(sentTokens.length).toBeGreaterThan(before);
    expect(new Set(sentTokens)).toEqual(new Set(renewed));
    expect(calls).toHaveLength(5);
  });
});
