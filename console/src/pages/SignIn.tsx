import { useState, type FormEvent } from 'react';
import type { TrustedLogKey } from '../../../client/index.ts';
import { answerMfa, claimsOf, signInWithPassword, type CognitoStep } from '../cognito.ts';
import { errorText, type ConsoleConfig, type Session } from '../session.ts';

type Mode = 'cognito' | 'user' | 'apiKey' | 'appToken';

/** Sign in as a local user (the local issuer, Cognito's stand-in), with the API key, or with an app token. */
export function SignIn({ config, onSignedIn }: { config: ConsoleConfig; onSignedIn: (session: Session, logKey: TrustedLogKey | null) => void }) {
  const [mode, setMode] = useState<Mode>(config.cognito ? 'cognito' : config.localIssuer ? 'user' : 'apiKey');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [mfaCode, setMfaCode] = useState('');
  const [mfaSession, setMfaSession] = useState<string | null>(null);
  const [user, setUser] = useState('alice');
  const [tenant, setTenant] = useState('acme');
  const [groups, setGroups] = useState('');
  const [apiKey, setApiKey] = useState(config.apiKey ?? '');
  const [appToken, setAppToken] = useState('');
  const [logKeyHex, setLogKeyHex] = useState(config.logKey?.publicKeyHex ?? '');
  const [failure, setFailure] = useState<string | null>(null);

  const logKey = (): TrustedLogKey | null => (logKeyHex.trim() ? { name: config.logKey?.name ?? 'loglineos.local', publicKeyHex: logKeyHex.trim().toLowerCase() } : null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFailure(null);
    try {
      if (mode === 'cognito' && config.cognito) {
        const next: CognitoStep = mfaSession ? await answerMfa(config.cognito, email.trim(), mfaSession, mfaCode.trim()) : await signInWithPassword(config.cognito, email.trim(), password);
        if ('mfaSession' in next) return setMfaSession(next.mfaSession);
        const claims = claimsOf(next.idToken);
        onSignedIn({ kind: 'user', token: next.idToken, ...(next.refreshToken ? { refreshToken: next.refreshToken } : {}), ...claims }, logKey());
      } else if (mode === 'user') {
        const groupList = groups.split(',').map((g) => g.trim()).filter(Boolean);
        const response = await fetch(new URL('token', document.baseURI), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user: user.trim(), tenant: tenant.trim() || null, groups: groupList }),
        });
        const body = (await response.json()) as { token?: string; message?: string };
        if (!response.ok || !body.token) throw new Error(body.message ?? `the issuer answered HTTP ${response.status}`);
        onSignedIn({ kind: 'user', token: body.token, user: user.trim(), tenant: tenant.trim() || null, groups: groupList }, logKey());
      } else if (mode === 'apiKey') {
        if (!apiKey.trim()) throw new Error('enter the API key (npm start prints it)');
        onSignedIn({ kind: 'apiKey', apiKey: apiKey.trim() }, logKey());
      } else {
        if (!/^llos_[A-Za-z0-9_-]{32}$/.test(appToken.trim())) throw new Error('an app token looks like llos_ followed by 32 characters (registerApp or issueToken shows it once)');
        onSignedIn({ kind: 'appToken', token: appToken.trim() }, logKey());
      }
    } catch (error) {
      setFailure(errorText(error));
    }
  }

  return (
    <form className="signin" onSubmit={(event) => void submit(event)}>
      <h1>LogLineOS console</h1>
      <div className="tabs" role="tablist">
        {config.cognito && <button type="button" role="tab" aria-selected={mode === 'cognito'} onClick={() => setMode('cognito')}>User</button>}
        {config.localIssuer && <button type="button" role="tab" aria-selected={mode === 'user'} onClick={() => setMode('user')}>Local user</button>}
        <button type="button" role="tab" aria-selected={mode === 'apiKey'} onClick={() => setMode('apiKey')}>API key</button>
        <button type="button" role="tab" aria-selected={mode === 'appToken'} onClick={() => setMode('appToken')}>App token</button>
      </div>
      {mode === 'cognito' && (
        <>
          <p className="muted">Your user of this deployment's Cognito user pool; your tenant comes from it.</p>
          <label>Email <input name="email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required /></label>
          <label>Password <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required /></label>
          {mfaSession && <label>Authenticator code <input name="mfa" inputMode="numeric" value={mfaCode} onChange={(e) => setMfaCode(e.target.value)} required /></label>}
        </>
      )}
      {mode === 'user' && (
        <>
          <p className="muted">The local issuer signs you in by name, as Cognito would with a password on AWS.</p>
          <label>User <input name="user" value={user} onChange={(e) => setUser(e.target.value)} required /></label>
          <label>Tenant <input name="tenant" value={tenant} onChange={(e) => setTenant(e.target.value)} placeholder="none" /></label>
          <label>Groups <input name="groups" value={groups} onChange={(e) => setGroups(e.target.value)} placeholder="comma-separated, e.g. admin" /></label>
        </>
      )}
      {mode === 'apiKey' && (
        <>
          <p className="muted">The API key reads public data only.</p>
          <label>API key <input name="apiKey" value={apiKey} onChange={(e) => setApiKey(e.target.value)} /></label>
        </>
      )}
      {mode === 'appToken' && (
        <>
          <p className="muted">An app's token (Authorization: llos_…), limited to its scopes.</p>
          <label>App token <input name="appToken" value={appToken} onChange={(e) => setAppToken(e.target.value)} /></label>
        </>
      )}
      <details>
        <summary>Trusted log key</summary>
        <p className="muted">The Ed25519 key the Verify button trusts for checkpoints. Obtain it out of band for a server you do not run.</p>
        <label>Public key (hex) <input name="logKey" value={logKeyHex} onChange={(e) => setLogKeyHex(e.target.value)} /></label>
      </details>
      <button type="submit" className="primary">Sign in</button>
      {failure && <p className="error" role="alert">{failure}</p>}
    </form>
  );
}
