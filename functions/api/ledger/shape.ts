import { ValidationError } from '../../commons/errors.ts';
import { COLUMNS, camelCase, cursorOf, type Page, type Span } from '../../ledger/index.ts';

const JSON_FIELDS = COLUMNS.filter((col) => col.type === 'jsonb').map((col) => camelCase(col.name));

/**
 * A span as the GraphQL `Span` type has it: every column, and its timeline cursor. AWSJSON columns
 * leave as JSON text: a scalar passes a string through as if it were JSON text already, so a jsonb
 * column holding a JSON string (a memory's `content`, a prompt block's text) would reach clients as
 * bare text that no JSON parser (nor the client verifier) reads back.
 */
export const toGraphqlSpan = (span: Span) => {
  const out: Record<string, unknown> = { ...span, cursor: cursorOf(span) };
  for (const field of JSON_FIELDS) if (typeof out[field] === 'string') out[field] = JSON.stringify(out[field]);
  return out as unknown as Span & { cursor: string };
};

export const toGraphqlPage = (page: Page) => ({
  edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: toGraphqlSpan(edge.node) })),
  pageInfo: page.pageInfo,
});

/**
 * AppSync hands an AWSJSON argument to a Lambda as JSON text: its value, or a ValidationError naming
 * the field. Anything that is not text is passed on for the domain's own validation.
 */
export function parseAwsJson(field: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new ValidationError(field, value, 'is not valid JSON', 'Send AWSJSON as a string holding one JSON value, e.g. "{\\"key\\": 1}".');
  }
}

/** Every AWSJSON column of a span input, parsed; the ledger validates the values. */
export function parseJsonFields(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...input };
  for (const field of JSON_FIELDS) out[field] = parseAwsJson(field, out[field]);
  return out;
}
