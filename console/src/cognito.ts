/*
 * Cognito sign-in for the console on AWS: USER_PASSWORD_AUTH against the user pool's public API
 * (the app client has no secret), answering a TOTP challenge when the pool requires MFA. The console
 * keeps the ID token, which carries custom:tenant_id, and sends it to AppSync as is; within five minutes
 * of its expiry (an hour by default) it trades the refresh token for a new one, so a console left open
 * keeps working without a second sign-in until the refresh token itself expires (30 days by default).
 */

export interface CognitoConfig {
  readonly region: string;
  readonly userPoolId: string;
  readonly clientId: string;
}

export type CognitoStep = { readonly idToken: string; readonly refreshToken?: string } | { readonly mfaSession: string };

async function call(config: CognitoConfig, action: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(`https://cognito-idp.${config.region}.amazonaws.com/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSCognitoIdentityProviderService.${action}` },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`Cognito refused the sign-in: ${String(answer.message ?? answer.__type ?? response.status)}`);
  return answer;
}

function step(answer: Record<string, unknown>): CognitoStep {
  const result = answer.AuthenticationResult as { IdToken?: string; RefreshToken?: string } | undefined;
  if (result?.IdToken) return { idToken: result.IdToken, ...(result.RefreshToken ? { refreshToken: result.RefreshToken } : {}) };
  if (answer.ChallengeName === 'SOFTWARE_TOKEN_MFA' && typeof answer.Session === 'string') return { mfaSession: answer.Session };
  throw new Error(`Cognito asks for ${String(answer.ChallengeName)}, which the console does not handle; finish it with the AWS CLI first`);
}

export async function signInWithPassword(config: CognitoConfig, username: string, password: string): Promise<CognitoStep> {
  return step(await call(config, 'InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: config.clientId, AuthParameters: { USERNAME: username, PASSWORD: password } }));
}

export async function answerMfa(config: CognitoConfig, username: string, session: string, code: string): Promise<CognitoStep> {
  return step(await call(config, 'RespondToAuthChallenge', { ChallengeName: 'SOFTWARE_TOKEN_MFA', ClientId: config.clientId, Session: session, ChallengeResponses: { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: code } }));
}

/** A new ID token for a refresh token (REFRESH_TOKEN_AUTH; Cognito sends no new refresh token). */
export async function renewIdToken(config: CognitoConfig, refreshToken: string): Promise<string> {
  const answer = await call(config, 'InitiateAuth', { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: config.clientId, AuthParameters: { REFRESH_TOKEN: refreshToken } });
  const idToken = (answer.AuthenticationResult as { IdToken?: string } | undefined)?.IdToken;
  if (!idToken) throw new Error('Cognito did not renew the session; sign out and sign in again');
  return idToken;
}

const RENEW_BEFORE_MS = 5 * 60_000;

/**
 * The ID token to send now: `current` while it has more than five minutes left, else a renewed one.
 * Concurrent callers share one renewal; `onRenewed` is told of each new token (to keep it across a
 * reload).
 */
export function renewingIdToken(config: CognitoConfig, current: string, refreshToken: string, onRenewed: (idToken: string) => void): () => Promise<string> {
  let token = current;
  let renewal: Promise<string> | null = null;
  return async () => {
    if (expiresAtMs(token) - Date.now() > RENEW_BEFORE_MS) return token;
    renewal ??= renewIdToken(config, refreshToken)
      .then((renewed) => {
        token = renewed;
        onRenewed(renewed);
        return renewed;
      })
      .finally(() => (renewal = null));
    return renewal;
  };
}

function payloadOf(idToken: string): Record<string, unknown> {
  return JSON.parse(atob((idToken.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
}

/** When the token expires (its `exp`), in ms since the epoch; 0 when it carries none. */
function expiresAtMs(idToken: string): number {
  const exp = payloadOf(idToken).exp;
  return typeof exp === 'number' ? exp * 1000 : 0;
}

/** The claims the console shows (the token is verified by AppSync, not here). */
export function claimsOf(idToken: string): { user: string; tenant: string | null; groups: string[] } {
  const payload = payloadOf(idToken);
  const groups = Array.isArray(payload['cognito:groups']) ? (payload['cognito:groups'] as string[]) : [];
  return { user: String(payload['cognito:username'] ?? payload.email ?? payload.sub), tenant: typeof payload['custom:tenant_id'] === 'string' ? payload['custom:tenant_id'] : null, groups };
}
