import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { HASH_BYTES } from './merkle.ts';

/*
 * A log's checkpoint as a transparency-dev signed note (C2SP tlog-checkpoint over C2SP signed-note,
 * Ed25519 signature type 0x01), so that any tool of that ecosystem reads our checkpoints:
 *
 *   <origin>\n<size>\n<base64 root>\n[time <RFC 3339>\n]\n— <key name> <base64(key ID || signature)>\n
 *
 * Pure and browser-safe: the server signs with it, the client and the witnesses open with it.
 */

ed.hashes.sha512 = sha512;

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** RFC 3339, an extension line `time <value>` */
  readonly time?: string;
}

/** What is wrong with a note: its format, the key (not signed by the one trusted), or the signature. */
export type CheckpointErrorCode = 'format' | 'unknown_key' | 'bad_signature';

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const SIGNATURE_PREFIX = '\u2014 ';
const ED25519_TYPE = 0x01;
const KEY_ID_BYTES = 4;
const SIGNATURE_BYTES = 64;
/** The spec asks verifiers to accept at least 16 signatures and to bound them. */
const MAX_SIGNATURES = 64;
const MAX_NOTE_LENGTH = 64 * 1024;
const TIME_PREFIX = 'time ';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;
// Signed notes allow no ASCII control character other than the newline.
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
// Key names (and, as the spec recommends, our origins) hold no Unicode space and no plus.
const SPACE_OR_PLUS = /[\s+\u0085\u180e\u200b]/u;

const encoder = new TextEncoder();

/** The note text: `<origin>\n<size>\n<base64 root>\n`, then `time <t>\n` when the checkpoint has a time. */
export function checkpointBody(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, time } = checkpoint;
  if (typeof origin !== 'string' || origin === '' || CONTROL.test(origin) || origin.includes('\n') || SPACE_OR_PLUS.test(origin) || !origin.isWellFormed()) {
    throw new CheckpointError('format', `a checkpoint's origin must be one non-empty line without spaces, plus signs or control characters (e.g. example.com/log), got ${JSON.stringify(origin)}`);
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new CheckpointError('format', `a checkpoint's size must be a whole number from 0, got ${String(size)}`);
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== HASH_BYTES) {
    throw new CheckpointError('format', `a checkpoint's root hash must be ${HASH_BYTES} bytes, got ${rootHash instanceof Uint8Array ? rootHash.length : typeof rootHash}`);
  }
  if (time !== undefined && (typeof time !== 'string' || !RFC3339.test(time))) {
    throw new CheckpointError('format', `a checkpoint's time must be an RFC 3339 timestamp such as 2026-01-31T12:00:00.000Z, got ${JSON.stringify(time)}`);
  }
  return `${origin}\n${size}\n${toBase64(rootHash)}\n${time === undefined ? '' : `${TIME_PREFIX}${time}\n`}`;
}

/** The signed-note key ID: the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || Ed25519 public key). */
export function noteKeyHash(keyName: string, publicKey: Uint8Array): Uint8Array {
  checkKeyName(keyName);
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new CheckpointError('format', `an Ed25519 public key is 32 bytes, got ${publicKey instanceof Uint8Array ? publicKey.length : typeof publicKey}`);
  }
  const name = encoder.encode(keyName);
  const input = new Uint8Array(name.length + 2 + publicKey.length);
  input.set(name, 0);
  input[name.length] = 0x0a;
  input[name.length + 1] = ED25519_TYPE;
  input.set(publicKey, name.length + 2);
  return sha256(input).slice(0, KEY_ID_BYTES);
}

/** The whole note: body, a blank line, then `— <keyName> <base64(key ID || signature)>\n`; `sign` signs the body's UTF-8 bytes with Ed25519. */
export function signCheckpoint(checkpoint: Checkpoint, keyName: string, publicKey: Uint8Array, sign: (message: Uint8Array) => Uint8Array): string {
  const body = checkpointBody(checkpoint);
  const keyId = noteKeyHash(keyName, publicKey);
  const signature = sign(encoder.encode(body));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    throw new CheckpointError('format', `an Ed25519 signature is ${SIGNATURE_BYTES} bytes, the signer returned ${signature instanceof Uint8Array ? signature.length : typeof signature}`);
  }
  const blob = new Uint8Array(KEY_ID_BYTES + SIGNATURE_BYTES);
  blob.set(keyId, 0);
  blob.set(signature, KEY_ID_BYTES);
  return `${body}\n${SIGNATURE_PREFIX}${keyName} ${toBase64(blob)}\n`;
}

/**
 * Parses a note and verifies its signature by this key; throws a CheckpointError naming what is wrong
 * (format, unknown_key, bad_signature) otherwise. Signatures by other keys are ignored, as the
 * signed-note spec requires; a failing signature by this key refuses the note.
 */
export function openCheckpoint(note: string, keyName: string, publicKey: Uint8Array): Checkpoint {
  const keyId = noteKeyHash(keyName, publicKey);
  if (typeof note !== 'string') throw new CheckpointError('format', `a signed note is text, got ${typeof note}`);
  if (note.length > MAX_NOTE_LENGTH) throw new CheckpointError('format', `a signed note of ${note.length} characters is longer than the ${MAX_NOTE_LENGTH} accepted`);
  if (!note.isWellFormed() || CONTROL.test(note)) throw new CheckpointError('format', 'a signed note must be valid UTF-8 text with no control character other than newline');
  // The text is separated from the signatures by the last blank line; it keeps its final newline.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new CheckpointError('format', 'a signed note has its text, a blank line, then signature lines; this one has no blank line');
  const text = note.slice(0, split + 1);
  const signatureBlock = note.slice(split + 2);
  if (signatureBlock === '' || !signatureBlock.endsWith('\n')) throw new CheckpointError('format', 'a signed note must end with at least one signature line and a newline');
  const lines = signatureBlock.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new CheckpointError('format', `a signed note with ${lines.length} signatures has more than the ${MAX_SIGNATURES} accepted`);

  const message = encoder.encode(text);
  const seen: string[] = [];
  let verified = false;
  for (const line of lines) {
    const { name, blob } = parseSignatureLine(line);
    seen.push(`${name} (key ID ${hex(blob.slice(0, KEY_ID_BYTES))})`);
    if (name !== keyName || !equalBytes(blob.slice(0, KEY_ID_BYTES), keyId)) continue;
    const signature = blob.slice(KEY_ID_BYTES);
    let ok = false;
    try {
      ok = signature.length === SIGNATURE_BYTES && ed.verify(signature, message, publicKey);
    } catch {
      ok = false;
    }
    if (!ok) throw new CheckpointError('bad_signature', `the signature by ${keyName} does not verify: the note was changed or was not signed by this key`);
    verified = true;
  }
  if (!verified) {
    throw new CheckpointError('unknown_key', `the note is not signed by the trusted key ${keyName} (key ID ${hex(keyId)}); it is signed by ${seen.join(', ')}`);
  }
  return parseBody(text);
}

function parseSignatureLine(line: string): { name: string; blob: Uint8Array } {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw new CheckpointError('format', `a signature line starts with an em dash (U+2014) and a space, got ${JSON.stringify(line.slice(0, 40))}`);
  const parts = line.slice(SIGNATURE_PREFIX.length).split(' ');
  const [name, encoded] = parts;
  if (parts.length !== 2 || name === undefined || encoded === undefined || name === '' || SPACE_OR_PLUS.test(name)) {
    throw new CheckpointError('format', `a signature line is "— <key name> <base64 signature>", got ${JSON.stringify(line.slice(0, 80))}`);
  }
  const blob = fromBase64(encoded);
  if (blob === undefined || blob.length <= KEY_ID_BYTES) throw new CheckpointError('format', `the signature of ${name} is not standard padded base64 of a key ID and a signature`);
  return { name, blob };
}

function parseBody(text: string): Checkpoint {
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined) {
    throw new CheckpointError('format', `a checkpoint has at least three lines (origin, size, root hash), this one has ${lines.length}`);
  }
  if (origin === '') throw new CheckpointError('format', 'a checkpoint\'s origin line is empty');
  if (!DECIMAL.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new CheckpointError('format', `a checkpoint's size is a decimal number without leading zeros (below 2^53), got ${JSON.stringify(sizeText.slice(0, 40))}`);
  }
  const rootHash = fromBase64(rootText);
  if (rootHash === undefined || rootHash.length !== HASH_BYTES) {
    throw new CheckpointError('format', `a checkpoint's root hash is standard padded base64 of ${HASH_BYTES} bytes, got ${JSON.stringify(rootText.slice(0, 60))}`);
  }
  let time: string | undefined;
  for (const line of extensions) {
    if (line === '') throw new CheckpointError('format', 'a checkpoint\'s extension lines must not be empty');
    if (!line.startsWith(TIME_PREFIX)) continue; // other extension lines are opaque: signed, kept out of the result
    const value = line.slice(TIME_PREFIX.length);
    if (time !== undefined) throw new CheckpointError('format', 'a checkpoint has more than one time line');
    if (!RFC3339.test(value)) throw new CheckpointError('format', `a checkpoint's time line holds an RFC 3339 timestamp, got ${JSON.stringify(value.slice(0, 40))}`);
    time = value;
  }
  const checkpoint = { origin, size: Number(sizeText), rootHash };
  return time === undefined ? checkpoint : { ...checkpoint, time };
}

function checkKeyName(keyName: string): void {
  if (typeof keyName !== 'string' || keyName === '' || SPACE_OR_PLUS.test(keyName) || CONTROL.test(keyName) || keyName.includes('\n') || !keyName.isWellFormed()) {
    throw new CheckpointError('format', `a note key name must be non-empty, without spaces, plus signs or control characters, got ${JSON.stringify(keyName)}`);
  }
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** RFC 4648 §4 base64 with padding (btoa needs binary strings; this works the same everywhere). */
function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += BASE64[(n >> 18) & 63] as string;
    out += BASE64[(n >> 12) & 63] as string;
    out += b === undefined ? '=' : (BASE64[(n >> 6) & 63] as string);
    out += c === undefined ? '=' : (BASE64[n & 63] as string);
  }
  return out;
}

/** Strict decoding: only the canonical padded encoding of some bytes is accepted (undefined otherwise). */
function fromBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = new Uint8Array((text.length / 4) * 3 - padding);
  let at = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j += 1) {
      const ch = text[i + j] as string;
      n = (n << 6) | (ch === '=' ? 0 : BASE64.indexOf(ch));
    }
    if (at < bytes.length) bytes[at++] = (n >> 16) & 255;
    if (at < bytes.length) bytes[at++] = (n >> 8) & 255;
    if (at < bytes.length) bytes[at++] = n & 255;
  }
  // Unused bits must be zero: one byte string, one encoding.
  return toBase64(bytes) === text ? bytes : undefined;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
