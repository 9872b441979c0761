import { readFileSync } from 'node:fs';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, test } from 'vitest';
import { CheckpointError, checkpointBody, noteKeyHash, openCheckpoint, signCheckpoint, type Checkpoint } from '../../functions/ledger/checkpoint-note.ts';
import { EMPTY_ROOT } from '../../functions/ledger/merkle.ts';

/*
 * Checkpoints as signed notes (C2SP tlog-checkpoint, signed-note): interoperable with Go's
 * golang.org/x/mod/sumdb/note and sum.golang.org, pinned by our own vectors, and refusing every
 * change to a signed note.
 */

ed.hashes.sha512 = sha512;

interface NoteVectors {
  interop: {
    goSumdbNote: { signerKey: string; verifierKey: string; text: string; note: string };
    sumGolangOrgCheckpoint: { verifierKey: string; note: string; origin: string; size: number; rootHashBase64: string };
  };
  ours: { seed: string; publicKey: string; keyName: string; keyId: string; checkpoints: { origin: string; size: number; rootHash: string; time?: string; note: string }[] };
}
const vectors = JSON.parse(readFileSync(new URL('../vectors/merkle-checkpoint-notes.json', import.meta.url), 'utf8')) as NoteVectors;

/** A Go note key `<name>+<hex key ID>+<base64(type || key)>` (the base64 may itself hold '+'). */
function goKey(text: string): { name: string; keyId: string; type: number; key: Uint8Array } {
  const [name, keyId, ...rest] = text.replace(/^PRIVATE\+KEY\+/, '').split('+');
  const raw = Buffer.from(rest.join('+'), 'base64');
  return { name: name as string, keyId: keyId as string, type: raw[0] as number, key: new Uint8Array(raw.subarray(1)) };
}

const seed = hexToBytes(vectors.ours.seed);
const publicKey = hexToBytes(vectors.ours.publicKey);
const keyName = vectors.ours.keyName;
const sign = (message: Uint8Array) => ed.sign(message, seed);
const otherSeed = new Uint8Array(32).fill(9);
const otherPublicKey = ed.getPublicKey(otherSeed);
const root8 = hexToBytes('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
const sample: Checkpoint = { origin: 'loglineos.local/tenant/acme', size: 8, rootHash: root8, time: '2026-01-31T12:00:00.000Z' };

/** Signs any text as a note by hand, to build notes signCheckpoint would never write. */
function handSigned(text: string, name = keyName, key = seed, pub = publicKey): string {
  const blob = new Uint8Array([...noteKeyHash(name, pub), ...ed.sign(new TextEncoder().encode(text), key)]);
  return `${text}\n\u2014 ${name} ${Buffer.from(blob).toString('base64')}\n`;
}

function openError(note: string, name = keyName, key: Uint8Array = publicKey): { code: string; message: string } {
  try {
    openCheckpoint(note, name, key);
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return { code: (error as CheckpointError).code, message: (error as Error).message };
  }
  throw new Error('the note was accepted');
}

describe('interoperability with the Go signed-note ecosystem', () => {
  test('the golang.org/x/mod PeterNeumann note: same key ID, our Ed25519 signs it byte for byte, and its signature verifies here', () => {
    // Given the published keys and note
    const { goSumdbNote } = vectors.interop;
    const verifier = goKey(goSumdbNote.verifierKey);
    const signer = goKey(goSumdbNote.signerKey);
    expect([verifier.type, signer.type]).toEqual([1, 1]);
    // Then the key ID is the one the Go key names, and the signature is the Go signature
    expect(bytesToHex(noteKeyHash(verifier.name, verifier.key))).toBe(verifier.keyId);
    const blob = new Uint8Array([...noteKeyHash(verifier.name, verifier.key), ...ed.sign(new TextEncoder().encode(goSumdbNote.text), signer.key)]);
    expect(`${goSumdbNote.text}\n\u2014 ${verifier.name} ${Buffer.from(blob).toString('base64')}\n`).toBe(goSumdbNote.note);
    // And openCheckpoint verifies it (then refuses the text, which is no checkpoint), but not once changed
    expect(openError(goSumdbNote.note, verifier.name, verifier.key)).toMatchObject({ code: 'format', message: expect.stringMatching(/at least three lines/) });
    expect(openError(goSumdbNote.note.replace('cryptography', 'cryptographY'), verifier.name, verifier.key).code).toBe('bad_signature');
  });

  test('a real sum.golang.org signed tree head opens with Go\'s published key', () => {
    const { sumGolangOrgCheckpoint: sth } = vectors.interop;
    const verifier = goKey(sth.verifierKey);
    expect(bytesToHex(noteKeyHash(verifier.name, verifier.key))).toBe(verifier.keyId);
    expect(openCheckpoint(sth.note, verifier.name, verifier.key)).toEqual({ origin: sth.origin, size: sth.size, rootHash: new Uint8Array(Buffer.from(sth.rootHashBase64, 'base64')) });
    expect(openError(sth.note.replace('31700353', '31700354'), verifier.name, verifier.key).code).toBe('bad_signature');
  });
});

describe('our checkpoints', () => {
  test.each(vectors.ours.checkpoints.map((c) => [c.origin, c.size, c] as const))('%s at size %i: the fixed note, checked by node:crypto, opens to the same checkpoint', (_origin, _size, vector) => {
    // Given the fixed key (RFC 8032 §7.1 test 1) and checkpoint
    const checkpoint: Checkpoint = { origin: vector.origin, size: vector.size, rootHash: hexToBytes(vector.rootHash), ...(vector.time ? { time: vector.time } : {}) };
    // When it is signed
    const note = signCheckpoint(checkpoint, keyName, publicKey, sign);
    // Then the note is the contract's text, its signature verifies with node:crypto over the body
    expect(note).toBe(vector.note);
    const body = checkpointBody(checkpoint);
    expect(note.startsWith(`${body}\n\u2014 ${keyName} `)).toBe(true);
    const blob = Buffer.from(note.slice(body.length + 1).split(' ')[2] as string, 'base64');
    const keyId = createHash('sha256').update(Buffer.concat([Buffer.from(`${keyName}\n`), Buffer.of(1), publicKey])).digest().subarray(0, 4);
    expect(blob.subarray(0, 4).toString('hex')).toBe(keyId.toString('hex'));
    expect(keyId.toString('hex')).toBe(vectors.ours.keyId);
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]), format: 'der', type: 'spki' });
    expect(nodeVerify(null, Buffer.from(body), spki, blob.subarray(4))).toBe(true);
    // And it opens to what was signed
    expect(openCheckpoint(note, keyName, publicKey)).toEqual(checkpoint);
  });

  test('round trips: with and without time, the empty log, the largest size', () => {
    for (const checkpoint of [sample, { origin: 'a', size: 1, rootHash: root8 }, { origin: 'x.example/log', size: 0, rootHash: EMPTY_ROOT }, { ...sample, size: Number.MAX_SAFE_INTEGER, time: '2026-01-31T12:00:00+02:00' }]) {
      expect(openCheckpoint(signCheckpoint(checkpoint, keyName, publicKey, sign), keyName, publicKey)).toEqual(checkpoint);
    }
  });

  test('signatures by other keys are ignored, before or after ours; at least 16 are accepted', () => {
    const note = signCheckpoint(sample, keyName, publicKey, sign);
    const text = checkpointBody(sample);
    const other = handSigned(text, 'witness.example/w1', otherSeed, otherPublicKey).slice(text.length + 1);
    const ours = note.slice(text.length + 1);
    expect(openCheckpoint(`${text}\n${other}${ours}`, keyName, publicKey)).toEqual(sample);
    expect(openCheckpoint(`${text}\n${ours}${other.repeat(15)}`, keyName, publicKey)).toEqual(sample);
    expect(openError(`${text}\n${other.repeat(3)}`)).toMatchObject({ code: 'unknown_key', message: expect.stringMatching(/not signed by the trusted key loglineos\.local \(key ID 364763c7\); it is signed by witness\.example\/w1/) });
    expect(openError(`${text}\n${ours}${other.repeat(64)}`)).toMatchObject({ code: 'format', message: expect.stringMatching(/65 signatures/) });
  });

  test('unknown extension lines are signed and ignored; a second time line is refused', () => {
    const body = `${checkpointBody(sample)}vendor.example/extra 42\n`;
    expect(openCheckpoint(handSigned(body), keyName, publicKey)).toEqual(sample);
    expect(openError(handSigned(`${body}time 2026-02-01T00:00:00Z\n`))).toMatchObject({ code: 'format', message: expect.stringMatching(/more than one time line/) });
  });
});

describe('a changed note is refused, and says why', () => {
  const note = signCheckpoint(sample, keyName, publicKey, sign);
  const [text, signatureLine] = [note.slice(0, note.lastIndexOf('\n\n') + 1), note.slice(note.lastIndexOf('\n\n') + 2)];
  const signatureBase64 = (signatureLine.split(' ')[2] as string).trimEnd();
  const flipped = (at: number) => {
    const blob = Buffer.from(signatureBase64, 'base64');
    blob[at] = (blob[at] as number) ^ 0x01;
    return note.replace(signatureBase64, blob.toString('base64'));
  };

  test.each([
    ['the origin changed', note.replace('tenant/acme', 'tenant/acmf')],
    ['the size changed', note.replace('\n8\n', '\n9\n')],
    ['the root hash changed', note.replace('XcnaeacG', 'XcnaeacH')],
    ['the time changed', note.replace('12:00:00.000Z', '12:00:01.000Z')],
    ['a signature byte flipped', flipped(10)],
    ['the last signature byte flipped', flipped(67)],
    ['an extension line added', note.replace('.000Z\n', '.000Z\nextra\n')],
  ])('%s: bad_signature', (_what, changed) => {
    expect(openError(changed)).toMatchObject({ code: 'bad_signature', message: expect.stringMatching(/signature by loglineos\.local does not verify/) });
  });

  test.each([
    ['the key ID', flipped(0)],
    ['the key name', note.replace('\u2014 loglineos.local ', '\u2014 loglineos.locaL ')],
    ['a signature by another key of the same name', handSigned(text, keyName, otherSeed, otherPublicKey)],
  ])('%s: unknown_key', (_what, changed) => {
    expect(openError(changed).code).toBe('unknown_key');
  });

  test('a note opened with another trusted key: unknown_key', () => {
    expect(openError(note, keyName, otherPublicKey).code).toBe('unknown_key');
    expect(openError(note, 'other.example', publicKey).code).toBe('unknown_key');
  });

  test.each([
    ['no blank line', note.replace('\n\n', '\n'), /no blank line/],
    ['no signature', text + '\n', /at least one signature line/],
    ['no final newline', note.slice(0, -1), /at least one signature line/],
    ['CRLF line ends', note.replaceAll('\n', '\r\n'), /control character/],
    ['a tab', note.replace('acme', 'ac\tme'), /control character/],
    ['a hyphen for the em dash', note.replace('\u2014', '-'), /em dash/],
    ['an extra space in the signature line', note.replace(`${keyName} `, `${keyName}  `), /signature line is/],
    ['a plus in the key name', note.replace(`\u2014 ${keyName}`, `\u2014 ${keyName}+x`), /signature line is/],
    ['unpadded base64', note.replace(/=\n$/, '\n'), /not standard padded base64/],
    ['a lone surrogate', note.replace('acme', 'ac\ud800me'), /valid UTF-8/],
  ])('format: %s', (_what, changed, message) => {
    expect(openError(changed)).toMatchObject({ code: 'format', message: expect.stringMatching(message) });
  });

  const root = Buffer.from(root8).toString('base64');
  test.each([
    ['two lines', `o\n8\n`, /at least three lines/],
    ['an empty origin', `\n8\n${root}\n`, /origin line is empty/],
    ['a leading zero', `o\n08\n${root}\n`, /without leading zeros/],
    ['a negative size', `o\n-1\n${root}\n`, /without leading zeros/],
    ['an exponent', `o\n1e3\n${root}\n`, /without leading zeros/],
    ['a size of 2^53', `o\n9007199254740992\n${root}\n`, /below 2\^53/],
    ['a 31-byte root', `o\n8\n${Buffer.alloc(31).toString('base64')}\n`, /base64 of 32 bytes/],
    ['a hex root', `o\n8\n${bytesToHex(root8)}\n`, /base64 of 32 bytes/],
    ['non-canonical base64', `o\n8\n${root.slice(0, -2)}h=\n`, /base64 of 32 bytes/],
    ['an empty extension line', `o\n8\n${root}\n\ntime 2026-01-31T12:00:00Z\n`, /extension lines must not be empty/],
    ['a time that is not RFC 3339', `o\n8\n${root}\ntime yesterday\n`, /RFC 3339/],
  ])('format, in a well-signed body: %s', (_what, body, message) => {
    expect(openError(handSigned(body))).toMatchObject({ code: 'format', message: expect.stringMatching(message) });
  });

  test('signing refuses what no verifier should have to read', () => {
    const bad: [Partial<Checkpoint>, RegExp][] = [
      [{ origin: '' }, /origin must be one non-empty line/],
      [{ origin: 'two\nlines' }, /origin must be one non-empty line/],
      [{ origin: 'with space' }, /without spaces, plus signs/],
      [{ origin: 'a+b' }, /without spaces, plus signs/],
      [{ size: -1 }, /size must be a whole number from 0, got -1/],
      [{ size: 1.5 }, /got 1.5/],
      [{ rootHash: new Uint8Array(31) }, /root hash must be 32 bytes, got 31/],
      [{ time: '2026-01-31 12:00' }, /RFC 3339/],
    ];
    for (const [change, message] of bad) expect(() => signCheckpoint({ ...sample, ...change }, keyName, publicKey, sign)).toThrow(message);
    expect(() => signCheckpoint(sample, 'has space', publicKey, sign)).toThrow(/key name must be non-empty, without spaces/);
    expect(() => signCheckpoint(sample, '', publicKey, sign)).toThrow(/key name/);
    expect(() => signCheckpoint(sample, keyName, publicKey.slice(1), sign)).toThrow(/public key is 32 bytes, got 31/);
    expect(() => signCheckpoint(sample, keyName, publicKey, () => new Uint8Array(63))).toThrow(/signer returned 63/);
  });
});
