import { createClient, type Client, type ClientAuth, type TrustedLogKey } from '../../client/index.ts';
import { renewingIdToken, type CognitoConfig } from './cognito.ts';

/** /console/config.json: written by the local server, or by the CDK app next to the files on AWS. */
export interface ConsoleConfig {
  readonly graphqlUrl: string;
  readonly localIssuer: boolean;
  readonly apiKey: string | null;
  readonly logKey: TrustedLogKey | null;
  /** On AWS: the user pool the console signs users in with. */
  readonly cognito?: CognitoConfig;
}

/** Who the console calls the API as: the three ways a caller signs in. */
export type Session =
  | {
      readonly kind: 'user';
      readonly token: string;
      /** Cognito's, when signed in through the user pool: renews `token` before it expires. */
      readonly refreshToken?: string;
      readonly user: string;
      readonly tenant: string | null;
      readonly groups: readonly string[];
    }
  | { readonly kind: 'apiKey'; readonly apiKey: string }
  | { readonly kind: 'appToken'; readonly token: string };

export interface Connection {
  readonly config: ConsoleConfig;
  readonly session: Session;
  /** Absolute, so the real-time URL can be derived from it. */
  readonly url: string;
  readonly auth: ClientAuth;
  readonly client: Client;
  /** The log key the Verify button trusts (from config.json unless the user pinned another at sign-in). */
  readonly logKey: TrustedLogKey | null;
}

const STORAGE_KEY = 'loglineos.console.session';

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch(new URL('config.json', document.baseURI));
  if (!response.ok) throw new Error(`config.json answered HTTP ${response.status}`);
  return (await response.json()) as ConsoleConfig;
}

export function connect(config: ConsoleConfig, session: Session, logKey: TrustedLogKey | null): Connection {
  const url = new URL(config.graphqlUrl, document.baseURI).toString();
  const auth: ClientAuth =
    session.kind === 'apiKey'
      ? { apiKey: session.apiKey }
      : session.kind === 'user' && session.refreshToken && config.cognito
        ? { token: renewingIdToken(config.cognito, session.token, session.refreshToken, (token) => saveSession({ session: { ...session, token }, logKey })) }
        : { token: session.token };
  return { config, session, url, auth, client: createClient({ url, auth }), logKey };
}

/** Tab-scoped: a token should not outlive the browser tab it was issued to. */
export function savedSession(): { session: Session; logKey: TrustedLogKey | null } | null {
  const text = sessionStorage.getItem(STORAGE_KEY);
  if (!text) return null;
  try {
    return JSON.parse(text) as { session: Session; logKey: TrustedLogKey | null };
  } catch {
    return null;
  }
}

export function saveSession(value: { session: Session; logKey: TrustedLogKey | null } | null): void {
  if (value) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(STORAGE_KEY);
}

export function describeSession(session: Session): string {
  switch (session.kind) {
    case 'user':
      return `${session.user}${session.tenant ? ` @ ${session.tenant}` : ''}${session.groups.length ? ` (${session.groups.join(', ')})` : ''}`;
    case 'apiKey':
      return 'API key (public data)';
    case 'appToken':
      return `app token ${session.token.slice(0, 9)}…`;
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
