/*
 * Cognito sign-in for the console on AWS: USER_PASSWORD_AUTH against the user pool's public API
 * (the app client has no secret), answering a TOTP challenge when the pool requires MFA. The console
 * keeps the ID token, which carries custom:tenant_id, and sends it to AppSync as is.
 */

export interface CognitoConfig {
  readonly region: string;
  readonly userPoolId: string;
  readonly clientId: string;
}

export type CognitoStep = { readonly idToken: string } | { readonly mfaSession: string };

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
  const result = answer.AuthenticationResult as { IdToken?: string } | undefined;
  if (result?.IdToken) return { idToken: result.IdToken };
  if (answer.ChallengeName === 'SOFTWARE_TOKEN_MFA' && typeof answer.Session === 'string') return { mfaSession: answer.Session };
  throw new Error(`Cognito asks for ${String(answer.ChallengeName)}, which the console does not handle; finish it with the AWS CLI first`);
}

export async function signInWithPassword(config: CognitoConfig, username: string, password: string): Promise<CognitoStep> {
  return step(await call(config, 'InitiateAuth', { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: config.clientId, AuthParameters: { USERNAME: username, PASSWORD: password } }));
}

export async function answerMfa(config: CognitoConfig, username: string, session: string, code: string): Promise<CognitoStep> {
  return step(await call(config, 'RespondToAuthChallenge', { ChallengeName: 'SOFTWARE_TOKEN_MFA', ClientId: config.clientId, Session: session, ChallengeResponses: { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: code } }));
}

/** The claims the console shows (the token is verified by AppSync, not here). */
export function claimsOf(idToken: string): { user: string; tenant: string | null; groups: string[] } {
  const payload = JSON.parse(atob((idToken.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
  const groups = Array.isArray(payload['cognito:groups']) ? (payload['cognito:groups'] as string[]) : [];
  return { user: String(payload['cognito:username'] ?? payload.email ?? payload.sub), tenant: typeof payload['custom:tenant_id'] === 'string' ? payload['custom:tenant_id'] : null, groups };
}
