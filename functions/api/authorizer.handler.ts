import { createDecisionRecorder, decide, type AuthorizerDecision } from '../access/authorizer.ts';
import type { AccessContext } from '../access/tokens.ts';
import { currentLedger, currentTokenSecret } from '../commons/runtime.ts';

/** What AppSync sends a Lambda authorizer (AWS_LAMBDA auth mode), reduced to what is read. */
export interface AuthorizerEvent {
  readonly authorizationToken: string;
  readonly requestContext?: { readonly apiId?: string; readonly requestId?: string; readonly operationName?: string };
}

export interface AuthorizerResult {
  readonly isAuthorized: boolean;
  readonly resolverContext?: Readonly<Record<string, string>>;
  readonly deniedFields?: readonly string[];
  readonly ttlOverride?: number;
}

let recorder: ReturnType<typeof createDecisionRecorder> | undefined;

/** The decision, recorded as an `auth.decision` span (rate-limited); a recording failure never changes it. */
export async function authorizeToken(access: AccessContext, token: string, record: (d: AuthorizerDecision, tenant: string | null) => Promise<boolean>): Promise<AuthorizerResult> {
  const decision = await decide(access, token);
  await record(decision, decision.resolverContext?.tenantId || null).catch((error: unknown) => {
    console.error(JSON.stringify({ level: 'warn', message: 'recording an auth decision failed', error: error instanceof Error ? error.message : String(error) }));
  });
  const { reason: _reason, ...answer } = decision;
  return answer;
}

/** Lambda entry of the API's AWS_LAMBDA auth mode. */
export async function handler(event: AuthorizerEvent): Promise<AuthorizerResult> {
  const access: AccessContext = { ...(await currentLedger()), tokenSecret: await currentTokenSecret() };
  recorder ??= createDecisionRecorder(access);
  return authorizeToken(access, event.authorizationToken ?? '', recorder);
}
