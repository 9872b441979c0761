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
 * AppSync hands AWSJSON arguments to a Lambda as JSON text; the ledger stores the values. Anything
 * that is not text is passed on for the ledger's own validation.
 */
export function parseJsonFields(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...input };
  for (const field of JSON_FIELDS) {
    const value = out[field];
    if (typeof value !== 'string') continue;
    try {
      out[field] = JSON.parse(value) as unknown;
    } catch {
      throw new ValidationError(field, value, 'is not valid JSON', 'Send AWSJSON as a string holding one JSON value, e.g. "{\\"key\\": 1}".');
    }
  }
  return out;
}
