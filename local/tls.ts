import { join } from 'node:path';
import { generate } from 'selfsigned';
import { loadOrCreateSecretFile } from '../functions/commons/secret-file.ts';

/*
 * TLS for the local endpoint. AppSync clients such as AWS Amplify always open the real-time channel
 * with wss://, so the local server also speaks TLS: a local certificate authority and a certificate
 * for localhost/127.0.0.1 signed by it, made on first start (keys mode 0600). Node clients trust it
 * with NODE_EXTRA_CA_CERTS=<dataDir>/keys/local-ca.pem; browsers through the OS trust store.
 */

export interface LocalTls {
  readonly key: string;
  readonly cert: string;
  /** The CA certificate to trust. */
  readonly caFile: string;
}

const YEAR = 365 * 24 * 3600 * 1000;

export async function loadOrCreateTls(keysDir: string): Promise<LocalTls> {
  const caKeyFile = join(keysDir, 'local-ca.key');
  const caFile = join(keysDir, 'local-ca.pem');
  let caCert = '';
  const caKey = await loadOrCreateSecretFile(caKeyFile, async () => {
    const ca = await generate([{ name: 'commonName', value: 'LogLineOS local CA' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 5 * YEAR),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    });
    caCert = ca.cert;
    return ca.private;
  });
  caCert = await loadOrCreateSecretFile(caFile, () => caCert || Promise.reject(new Error(`${caFile} is missing but ${caKeyFile} exists; delete both to make a new local CA`)));
  const key = await loadOrCreateSecretFile(join(keysDir, 'tls.key'), async () => {
    const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + YEAR),
      ca: { key: caKey, cert: caCert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
      ],
    });
    await loadOrCreateSecretFile(join(keysDir, 'tls.pem'), () => leaf.cert);
    return leaf.private;
  });
  const cert = await loadOrCreateSecretFile(join(keysDir, 'tls.pem'), () => Promise.reject(new Error('tls.pem is missing; delete tls.key to make a new certificate')));
  return { key, cert, caFile };
}
