import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';

/*
 * AWS_IAM for AppSync from the client: SigV4 signatures made with the Web Crypto API, so the same
 * code runs in Node 20+ and in browsers (no Node-only hash package). Internal callers (a Lambda's
 * role, an operator's credentials) use it to subscribe and to read the timeline as on AWS.
 */

export interface IamCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Temporary credentials (a role's session) carry a token, signed as x-amz-security-token. */
  readonly sessionToken?: string;
}

/** `auth: { iam: … }`: SigV4 with these credentials, for the API's region (service `appsync`). */
export interface IamAuth {
  readonly iam: {
    readonly region: string;
    /** A function is called before every signature, so it can hand out refreshed credentials. */
    readonly credentials: IamCredentials | (() => IamCredentials | Promise<IamCredentials>);
  };
}

export const isIamAuth = (auth: object): auth is IamAuth => 'iam' in auth;

/** The headers AppSync's real-time endpoint expects an IAM signature over (its documentation, and Amplify JS). */
const REALTIME_HEADERS = {
  accept: 'application/json, text/javascript',
  'content-encoding': 'amz-1.0',
  'content-type': 'application/json; charset=UTF-8',
} as const;

/**
 * A real-time auth header object for AWS_IAM: a signed POST of `body` to the GraphQL endpoint plus
 * `suffix`. The connection signs `{}` to `/connect`; each start signs its `data` string to the
 * endpoint itself.
 */
export async function signedRealtimeHeader(graphqlUrl: string, suffix: '' | '/connect', body: string, auth: IamAuth, signingDate?: Date): Promise<Record<string, string>> {
  const url = new URL(graphqlUrl);
  url.pathname = `${url.pathname.replace(/\/$/, '')}${suffix}`;
  return sign(url, body, { ...REALTIME_HEADERS }, auth, signingDate);
}

/**
 * A fetch that signs every GraphQL POST with SigV4 instead of sending an API key or a token, for
 * createClient's HTTP calls. Any `authorization` header already set is replaced by the signature.
 */
export function iamFetch(auth: IamAuth, base: typeof fetch = (...args) => globalThis.fetch(...args)): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const body = typeof init?.body === 'string' ? init.body : '';
    const headers: Record<string, string> = {};
    for (const [name, value] of new Headers(init?.headers).entries()) if (name !== 'authorization') headers[name] = value;
    return base(url, { ...init, headers: await sign(url, body, headers, auth) });
  };
}

async function sign(url: URL, body: string, headers: Record<string, string>, auth: IamAuth, signingDate?: Date): Promise<Record<string, string>> {
  const credentials = typeof auth.iam.credentials === 'function' ? await auth.iam.credentials() : auth.iam.credentials;
  if (!credentials.accessKeyId || !credentials.secretAccessKey) {
    throw new TypeError('auth.iam.credentials needs accessKeyId and secretAccessKey; pass the credentials of the IAM principal that may call the API.');
  }
  // applyChecksum off: AppSync's signed header set has no x-amz-content-sha256.
  const signer = new SignatureV4({ credentials, region: auth.iam.region, service: 'appsync', sha256: WebCryptoSha256, applyChecksum: false });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: {},
    headers: { ...headers, host: url.host },
    body,
  }, signingDate ? { signingDate } : {});
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) result[name === 'authorization' ? 'Authorization' : name] = String(value);
  return result;
}

const encoder = new TextEncoder();
const bytesOf = (data: SourceData): Uint8Array =>
  typeof data === 'string' ? encoder.encode(data) : data instanceof Uint8Array ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);

/** SHA-256, or HMAC-SHA-256 when given a secret: the Checksum SignatureV4 asks for, on Web Crypto. */
class WebCryptoSha256 implements Checksum {
  private readonly chunks: Uint8Array[] = [];

  constructor(private readonly secret?: SourceData) {}

  update(data: Uint8Array): void {
    this.chunks.push(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    const length = this.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const message = new Uint8Array(length);
    let offset = 0;
    for (const chunk of this.chunks) {
      message.set(chunk, offset);
      offset += chunk.length;
    }
    const subtle = globalThis.crypto.subtle;
    if (this.secret === undefined) return new Uint8Array(await subtle.digest('SHA-256', message));
    // A copy on its own ArrayBuffer: the DOM's BufferSource type (the console's build) refuses a view that may be shared.
    const key = await subtle.importKey('raw', new Uint8Array(bytesOf(this.secret)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new Uint8Array(await subtle.sign('HMAC', key, message));
  }

  reset(): void {
    this.chunks.length = 0;
  }
}
