import { createHash } from 'node:crypto';
import type { Identity } from '../commons/db/database.ts';
import { ForbiddenError, NotFoundError, SignatureError, ValidationError } from '../commons/errors.ts';
import { appendSpanInSession, getSpan, latestVersion, spanFromRow, type Span } from '../ledger/index.ts';
import { SPAN_COLUMNS_SQL } from '../ledger/span.ts';
import type { AccessContext } from './tokens.ts';

/*
 * Devices: an app's device registers its Ed25519 public key as a `device` span. A span that names a
 * device (`deviceId`) must be signed by that device's registered key while the device is active;
 * anything else is refused before it is written.
 */

const HEX_KEY = /^[0-9a-f]{64}$/;

/** The key's fingerprint as devices show it: SHA-256 of the raw key, hex. */
export const keyFingerprint = (publicKeyHex: string) => createHash('sha256').update(Buffer.from(publicKeyHex, 'hex')).digest('hex');

export async function registerDevice(access: AccessContext, caller: Identity, appId: string, publicKey: unknown, fingerprint: unknown): Promise<Span> {
  if (typeof publicKey !== 'string' || !HEX_KEY.test(publicKey)) {
    throw new ValidationError('publicKey', publicKey, 'must be 64 lowercase hex characters', 'Send the raw 32-byte Ed25519 public key as hex.');
  }
  if (fingerprint !== keyFingerprint(publicKey)) {
    throw new ValidationError('fingerprint', fingerprint, 'does not match the public key', `Send the hex SHA-256 of the key's 32 bytes (${keyFingerprint(publicKey)}), as the device shows it.`);
  }
  const app = await getSpan(access, caller, appId);
  if (!app || app.entityType !== 'app_registration') throw new NotFoundError(`no app ${appId} that you can read`, { field: 'appId' });
  if (app.ownerId !== caller.userId || app.status !== 'active') throw new ForbiddenError(`devices are registered by the owner of an active app; app ${appId} is not yours or not active`, { field: 'appId' });
  const existing = await findDeviceByKey(access, publicKey);
  if (existing && existing.status === 'active') throw new ForbiddenError(`this key is already registered as device ${existing.id}`, { field: 'publicKey' });
  return access.db.withSession(caller, (tx) =>
    appendSpanInSession(tx, caller, {
      entityType: 'device',
      who: `user:${caller.userId}`,
      did: 'registered',
      this: `device ${fingerprint.slice(0, 16)}`,
      parentId: appId,
      appId,
      name: fingerprint,
      content: { publicKey },
      status: 'active',
      visibility: 'tenant',
    }, access.signer),
  );
}

export async function revokeDevice(access: AccessContext, caller: Identity, deviceId: string): Promise<Span> {
  const device = await getSpan(access, caller, deviceId);
  if (!device || device.entityType !== 'device') throw new NotFoundError(`no device ${deviceId} that you can read`, { field: 'id' });
  if (device.status === 'revoked') return device;
  return access.db.withSession(caller, (tx) =>
    appendSpanInSession(tx, caller, {
      id: device.id, seq: device.seq + 1, entityType: 'device', who: `user:${caller.userId}`, did: 'revoked', this: device.this,
      parentId: device.parentId, appId: device.appId, name: device.name, content: device.content, status: 'revoked', visibility: device.visibility,
    }, access.signer),
  );
}

async function findDeviceByKey(access: AccessContext, publicKey: string): Promise<Span | null> {
  return access.db.withLedger(async (tx) => {
    const [row] = await tx.query(
      `select ${SPAN_COLUMNS_SQL} from ledger.latest_spans r where r.entity_type = 'device' and r.content ->> 'publicKey' = $1 order by r.position desc limit 1`,
      [publicKey],
    );
    return row ? spanFromRow(row) : null;
  });
}

/**
 * A span that names a device must be signed by that device's registered, active key. Spans that
 * name no device are left to the ledger's own signature check.
 */
export async function checkDeviceSignature(access: AccessContext, input: Readonly<Record<string, unknown>>): Promise<void> {
  const deviceId = input.deviceId;
  if (deviceId === undefined || deviceId === null) return;
  const publicKey = input.publicKey;
  if (typeof publicKey !== 'string' || typeof input.signature !== 'string') {
    throw new SignatureError(`a span from device ${String(deviceId)} must be signed by the device (publicKey and signature)`, { field: 'signature' });
  }
  // By primary key, as the ledger role: the device may belong to someone the caller cannot read.
  const device = await access.db.withLedger((tx) => latestVersion(tx, String(deviceId)));
  const registered = device?.entityType === 'device' ? (device.content as { publicKey?: string } | null)?.publicKey : undefined;
  if (!device || registered !== publicKey) {
    throw new SignatureError(`the key ${publicKey} is not registered for device ${String(deviceId)}; register it with registerDevice first`, { field: 'publicKey' });
  }
  if (device.status !== 'active') throw new SignatureError(`device ${String(deviceId)} is revoked; its signatures are no longer accepted`, { field: 'deviceId' });
}
