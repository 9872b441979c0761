import * as ed from '@noble/ed25519';
import { blake3 } from '@noble/hashes/blake3.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import canonicalize from 'canonicalize';
import { COLUMNS, HASHED_COLUMNS, camelCase } from '../functions/ledger/columns.ts';

/*
 * Span verification for any JavaScript runtime (browsers included): the canonical form of
 * docs/canonical-form.md with pure-JS BLAKE3 and Ed25519, checked by the same test vectors as the
 * server's node:crypto path.
 */

ed.hashes.sha512 = sha512;

const HASHED = HASHED_COLUMNS.map((col) => [col.name, camelCase(col.name)] as const);
const JSON_FIELDS = COLUMNS.filter((col) => col.type === 'jsonb').map((col) => camelCase(col.name));

/**
 * A span as a GraphQL query returns it (AWSJSON fields are JSON text) in the form that is hashed
 * (those fields as JSON values). Live timeline events carry the span's own JSON and need no change.
 */
export function fromGraphqlSpan<T extends Readonly<Record<string, unknown>>>(span: T): T {
  const out: Record<string, unknown> = { ...span };
  for (const field of JSON_FIELDS) if (typeof out[field] === 'string') out[field] = JSON.parse(out[field] as string) as unknown;
  return out as T;
}

export interface SpanProof {
  readonly currHash: string;
  readonly signature?: string | null;
  readonly publicKey?: string | null;
  readonly [field: string]: unknown;
}

export interface ClientVerification {
  readonly hashOk: boolean;
  /** null when the span carries no signature. */
  readonly signatureOk: boolean | null;
  readonly computedHash: string;
}

/** The canonical string of a span given with camelCase fields (as the API returns it). */
export function canonicalSpan(span: Readonly<Record<string, unknown>>): string {
  const object: Record<string, unknown> = {};
  for (const [column, field] of HASHED) {
    const value = span[field];
    if (value !== null && value !== undefined) object[column] = value;
  }
  return canonicalize(object) ?? '';
}

/** Recomputes a span's hash and checks its signature, without trusting the server. */
export function verifySpanLocally(span: SpanProof): ClientVerification {
  const computedHash = bytesToHex(blake3(utf8ToBytes(canonicalSpan(span))));
  const hashOk = computedHash === span.currHash;
  if (!span.signature || !span.publicKey) return { hashOk, signatureOk: null, computedHash };
  let signatureOk = false;
  try {
    signatureOk = ed.verify(hexToBytes(span.signature), hexToBytes(span.currHash), hexToBytes(span.publicKey));
  } catch {
    signatureOk = false;
  }
  return { hashOk, signatureOk, computedHash };
}
