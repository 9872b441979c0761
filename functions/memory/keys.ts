import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { LRUCache } from 'lru-cache';
import { tracedAwsClient } from '../commons/aws-tracing.ts';
import type { Database } from '../commons/db/index.ts';
import { LogLineError } from '../commons/errors.ts';
import { loadOrCreateSecretFile } from '../commons/secret-file.ts';

/** Encryption could not be done; the write was refused (never stored in clear). */
export class EncryptionUnavailableError extends LogLineError {
  constructor(message: string) {
    super('EncryptionUnavailable', message);
  }
}

/** Makes and unwraps per-tenant data keys: KMS on AWS, a local key file otherwise. */
export interface KeyWrapper {
  /** `kms:<key id>` or `local`; stored beside each wrapped key. */
  readonly name: string;
  generate(tenantKey: string): Promise<{ plaintext: Buffer; wrapped: Buffer }>;
  unwrap(tenantKey: string, wrapped: Buffer): Promise<Buffer>;
}

/** KMS envelope encryption: GenerateDataKey makes the tenant's key, Decrypt unwraps it (tenant in the encryption context). */
export function kmsKeyWrapper(keyId: string, client: KMSClient = tracedAwsClient(new KMSClient({ maxAttempts: 2 }))): KeyWrapper {
  const context = (tenantKey: string) => ({ loglineos: 'memory', tenant: tenantKey });
  return {
    name: `kms:${keyId}`,
    async generate(tenantKey) {
      const out = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context(tenantKey) }));
      if (!out.Plaintext || !out.CiphertextBlob) throw new Error('KMS GenerateDataKey answered without a key');
      return { plaintext: Buffer.from(out.Plaintext), wrapped: Buffer.from(out.CiphertextBlob) };
    },
    async unwrap(tenantKey, wrapped) {
      const out = await client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: context(tenantKey) }));
      if (!out.Plaintext) throw new Error('KMS Decrypt answered without a key');
      return Buffer.from(out.Plaintext);
    },
  };
}

/**
 * The local stand-in for KMS: a 256-bit master key in a 0600 file, wrapping tenant keys with
 * AES-256-GCM. The file is read, or made, on the first secret write or read, not before.
 */
export function localKeyWrapper(dataDir: string): KeyWrapper {
  let master: Promise<Buffer> | undefined;
  const load = () => {
    master ??= loadOrCreateSecretFile(localKeyFile(dataDir), () => randomBytes(32).toString('hex')).then((hex) => {
      if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${localKeyFile(dataDir)} must hold 64 hex characters; delete it to make a new one (memories encrypted under it become unreadable)`);
      return Buffer.from(hex, 'hex');
    });
    master.catch(() => (master = undefined));
    return master;
  };
  return {
    name: 'local',
    async generate(tenantKey) {
      const plaintext = randomBytes(32);
      return { plaintext, wrapped: seal(await load(), plaintext, Buffer.from(`tenant:${tenantKey}`)).packed };
    },
    async unwrap(tenantKey, wrapped) {
      return open(await load(), unpack(wrapped), Buffer.from(`tenant:${tenantKey}`));
    },
  };
}

export const localKeyFile = (dataDir: string) => join(dataDir, 'keys', 'memory-master.key');

/**
 * Per-tenant data keys: wrapped in `ledger.memory_keys`, plaintext only in this process for a short
 * while. The first write of a tenant makes its key; two writers racing agree on the one stored first.
 */
export class TenantKeys {
  private readonly plain: LRUCache<string, Buffer>;

  constructor(
    private readonly db: Database,
    private readonly wrapper: KeyWrapper,
    cacheSeconds = 300,
  ) {
    this.plain = new LRUCache({ max: 1000, ttl: cacheSeconds * 1000 });
  }

  /** The tenant's data key, made on first use. Any failure is EncryptionUnavailable. */
  async keyFor(tenantId: string | null): Promise<Buffer> {
    const tenantKey = tenantId ?? '';
    const cached = this.plain.get(tenantKey);
    if (cached) return cached;
    try {
      let stored = await this.stored(tenantKey);
      if (!stored) {
        const made = await this.wrapper.generate(tenantKey);
        await this.db.withOwner((tx) =>
          tx.query('insert into ledger.memory_keys (tenant_key, wrapper, wrapped) values ($1, $2, $3) on conflict (tenant_key) do nothing', [tenantKey, this.wrapper.name, made.wrapped]),
        );
        stored = await this.stored(tenantKey);
        if (!stored) throw new Error('the tenant key was not stored');
      }
      const key = await this.wrapper.unwrap(tenantKey, stored);
      if (key.length !== 32) throw new Error(`the tenant key has ${key.length} bytes, not 32`);
      this.plain.set(tenantKey, key);
      return key;
    } catch (error) {
      throw new EncryptionUnavailableError(`the memory's encryption key is unavailable (${error instanceof Error ? error.message : 'error'}); secret and pii memories cannot be written or read until it is. Nothing was stored in clear.`);
    }
  }

  private async stored(tenantKey: string): Promise<Buffer | undefined> {
    const [row] = await this.db.withOwner((tx) => tx.query<{ wrapped: Uint8Array }>('select wrapped from ledger.memory_keys where tenant_key = $1', [tenantKey]));
    return row ? Buffer.from(row.wrapped) : undefined;
  }
}

export interface Sealed {
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
  readonly packed: Buffer;
}

/** AES-256-GCM with a fresh 96-bit IV; `aad` binds the ciphertext to where it belongs. */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  return { iv, tag, ciphertext, packed: Buffer.concat([iv, tag, ciphertext]) };
}

export function open(key: Buffer, sealed: Pick<Sealed, 'iv' | 'tag' | 'ciphertext'>, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
}

function unpack(packed: Buffer): Pick<Sealed, 'iv' | 'tag' | 'ciphertext'> {
  return { iv: packed.subarray(0, 12), tag: packed.subarray(12, 28), ciphertext: packed.subarray(28) };
}
