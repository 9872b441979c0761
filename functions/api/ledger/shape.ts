import { ValidationError } from '../../commons/errors.ts';
import { COLUMNS, camelCase, cursorOf, type Page, type Span } from '../../ledger/index.ts';

/** A span as the GraphQL `Span` type has it: every column, and its timeline cursor. */
export const toGraphqlSpan = (span: Span) => ({ ...span, cursor: cursorOf(span) });

export const toGraphqlPage = (page: Page) => ({
  edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: toGraphqlSpan(edge.node) })),
  pageInfo: page.pageInfo,
});

const JSON_FIELDS = COLUMNS.filter((col) => col.type === 'jsonb').map((col) => camelCase(col.name));

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
