import { authorizeToken, createDecisionRecorder, type AuthorizerResult } from '../access/authorizer.ts';
import type { AccessContext } from '../access/tokens.ts';
import { observedHandler } from '../commons/observability.ts';
import { currentLedger, currentTokenSecret } from '../commons/runtime.ts';

/** What AppSync sends a Lambda authorizer (AWS_LAMBDA auth mode), reduced to what is read. */
export interface AuthorizerEvent {
  readonly authorizationToken: string;
  readonly requestContext?: { readonly apiId?: string; readonly requestId?: string; readonly operationName?: string };
}

let recorder: ReturnType<typeof createDecisionRecorder> | undefined;

/** Lambda entry of the API's AWS_LAMBDA auth mode. */
export const handler = observedHandler('authorizer', async (event: AuthorizerEvent): Promise<AuthorizerResult> => {
  const access: AccessContext = { ...(await currentLedger()), tokenSecret: await currentTokenSecret() };
  recorder ??= createDecisionRecorder(access);
  return authorizeToken(access, event.authorizationToken ?? '', recorder);
}, { ledger: currentLedger });
