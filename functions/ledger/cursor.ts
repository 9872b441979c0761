import { ValidationError } from '../commons/errors.ts';

/*
 * A timeline cursor is the pair (transaction id, position), written as an opaque string. Positions
 * come from a sequence, so two concurrent transactions can commit out of position order; ordering by
 * the writing transaction first, and only reading transactions older than every one still running,
 * means a span can never appear behind a cursor a reader has already passed.
 */

export interface Cursor {
  readonly txId: string;
  readonly position: number;
}

const PREFIX = 'c1.';

export function encodeCursor(cursor: Cursor): string {
  return `${PREFIX}${Buffer.from(`${cursor.txId}.${cursor.position}`).toString('base64url')}`;
}

export function cursorOf(span: { readonly txId: string; readonly position: number }): string {
  return encodeCursor(span);
}

export function decodeCursor(text: string, field = 'after'): Cursor {
  const fail = () =>
    new ValidationError(field, text, 'is not a cursor this ledger issued', 'Pass a cursor exactly as a previous page or event returned it, or leave it out to start at the beginning.');
  if (!text.startsWith(PREFIX)) throw fail();
  const match = /^(\d{1,20})\.(\d{1,16})$/.exec(Buffer.from(text.slice(PREFIX.length), 'base64url').toString());
  if (!match) throw fail();
  const position = Number(match[2]);
  if (!Number.isSafeInteger(position)) throw fail();
  return { txId: match[1] ?? '0', position };
}

export const START: Cursor = { txId: '0', position: 0 };
