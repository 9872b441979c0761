import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fromGraphqlSpan, verifySpanLocally, type SpanProof } from '../../client/index.ts';
import { COLUMNS, camelCase } from '../../functions/ledger/index.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

/*
 * AWSJSON columns reach clients as JSON text, whatever JSON value they hold. A jsonb column holding
 * a JSON string (a memory's content, a prompt block's text) used to leave as the bare string, which
 * the client verifier could not read back (found by the console: memory spans could not be verified).
 */

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

const FIELDS = COLUMNS.map((col) => (col.name === 'this' ? 'this' : camelCase(col.name))).join(' ');

describe('JSON columns as the API returns them', () => {
  test('a span whose JSON columns hold a string, a number-like string and an object reads back as JSON text and verifies in the client', async () => {
    // given a span with JSON columns of every kind of value
    const suffix = randomBytes(3).toString('hex');
    const auth = { authorization: await api.token(`writer-${suffix}`, `acme-${suffix}`) };
    const { body: appended } = await api.request(auth, 'mutation A($input: SpanInput!) { appendSpan(input: $input) { id seq } }', {
      input: { entityType: `json_text_${suffix}`, who: 'writer', did: 'wrote', this: 'note', visibility: 'tenant', content: JSON.stringify('remember the blue door'), output: JSON.stringify('123'), metadata: JSON.stringify({ a: [1, 'x'] }) },
    });
    const { id, seq } = appended.data?.appendSpan as { id: string; seq: number };

    // when a client reads it through the span query
    const { body } = await api.request(auth, `query S($id: ID!, $seq: Int) { span(id: $id, seq: $seq) { ${FIELDS} } }`, { id, seq });
    const span = body.data?.span as Record<string, unknown>;

    // then every JSON column is JSON text of the value written, and the span verifies
    expect(span.content).toBe('"remember the blue door"');
    expect(span.output).toBe('"123"');
    expect(JSON.parse(span.metadata as string)).toEqual({ a: [1, 'x'] });
    const verdict = verifySpanLocally(fromGraphqlSpan(span) as SpanProof);
    expect(verdict.hashOk).toBe(true);
  });
});
