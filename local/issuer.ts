import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { loadOrCreateSecretFile } from '../functions/commons/secret-file.ts';

/*
 * A local stand-in for a Cognito user pool: it signs ID tokens with an ES256 key kept in the data
 * folder (mode 0600), and the server verifies every token's signature, issuer, audience and expiry.
 * Claims follow Cognito's: `sub`, `cognito:username`, `cognito:groups`, `custom:tenant_id`.
 */

export const LOCAL_ISSUER = 'https://loglineos.local/issuer';
export const LOCAL_AUDIENCE = 'loglineos-local';

export interface TokenRequest {
  readonly user: string;
  readonly tenant?: string | null;
  readonly groups?: readonly string[];
  /** Lifetime in seconds; default one hour. */
  readonly ttlSeconds?: number;
}

export interface LocalIssuer {
  issue(request: TokenRequest): Promise<string>;
  verify(token: string): Promise<JWTPayload>;
}

export async function openIssuer(keyFile: string): Promise<LocalIssuer> {
  const jwk = await loadOrCreateKey(keyFile);
  const privateKey = (await importJWK(jwk, 'ES256')) as CryptoKey;
  const { d: _private, ...publicJwk } = jwk;
  const publicKey = (await importJWK(publicJwk, 'ES256')) as CryptoKey;
  return {
    async issue({ user, tenant, groups = [], ttlSeconds = 3600 }) {
      const claims: JWTPayload = { 'cognito:username': user, token_use: 'id' };
      if (tenant) claims['custom:tenant_id'] = tenant;
      if (groups.length > 0) claims['cognito:groups'] = [...groups];
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid ?? 'local' })
        .setSubject(user)
        .setIssuer(LOCAL_ISSUER)
        .setAudience(LOCAL_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
        .sign(privateKey);
    },
    async verify(token) {
      const { payload } = await jwtVerify(token, publicKey, { issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE, algorithms: ['ES256'] });
      return payload;
    },
  };
}

async function loadOrCreateKey(keyFile: string): Promise<JWK> {
  const text = await loadOrCreateSecretFile(keyFile, async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    return JSON.stringify({ ...(await exportJWK(privateKey)), kid: `local-${Date.now().toString(36)}`, alg: 'ES256' });
  });
  return JSON.parse(text) as JWK;
}
