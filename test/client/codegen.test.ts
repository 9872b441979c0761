import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { buildSchema, isObjectType, Kind, parse, print } from 'graphql';
import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as operations from '../../client/operations.ts';
import {
  AppendSpanDocument,
  createClient,
  GetSpanDocument,
  GraphQLRequestError,
  ListSpansDocument,
  TimelineDocument,
  VerifyLedgerDocument,
  VerifySpanDocument,
} from '../../client/index.ts';
import type { GetSpanQuery } from '../../client/index.ts';
import { findStaleGeneratedFiles } from '../../schema/check-generated.ts';

const readText = (path: string) => readFile(resolve(path), 'utf8');

function operationOf(document: DocumentNode): OperationDefinitionNode | undefined {
  return document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
}

describe('generated operations', () => {
  // [operation name, operation type, document]
  const documents: [string, string, DocumentNode][] = [
    ['GetSpan', 'query', GetSpanDocument],
    ['ListSpans', 'query', ListSpansDocument],
    ['Timeline', 'query', TimelineDocument],
    ['VerifySpan', 'query', VerifySpanDocument],
    ['VerifyLedger', 'query', VerifyLedgerDocument],
    ['AppendSpan', 'mutation', AppendSpanDocument],
  ];

  test.each(documents)('%sDocument is a DocumentNode of the %s of that name', (name, type, document) => {
    // when
    const operation = operationOf(document);
    // then
    expect(document.kind).toBe(Kind.DOCUMENT);
    expect(operation?.name?.value).toBe(name);
    expect(operation?.operation).toBe(type);
    expect(print(parse(print(document)))).toBe(print(document));
  });

  test('every operation in client/operations/ has a generated document', async () => {
    // given
    const source = parse(await readText('client/operations/spans.graphql'));
    const names = source.definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION && d.name ? [d.name.value] : []));
    // then
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(Object.keys(operations)).toContain(`${name}Document`);
  });
});

describe('generated resolver types', () => {
  test('every field of Span in the schema is a key of the generated Span type', async () => {
    // given
    const sdl = (await readText('schema/schema.graphql')) + (await readText('schema/appsync.graphql'));
    const span = buildSchema(sdl).getType('Span');
    const generated = await readText('schema/generated/resolvers.ts');
    // when
    const block = /^export type Span = \{\n([\s\S]*?)\n\};$/m.exec(generated)?.[1] ?? '';
    const keys = [...block.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]).filter((key) => key !== '__typename');
    // then
    expect(isObjectType(span)).toBe(true);
    const fields = isObjectType(span) ? Object.keys(span.getFields()) : [];
    expect(fields.length).toBeGreaterThan(0);
    expect(keys.toSorted()).toEqual(fields.toSorted());
  });
});

describe('codegen:check', () => {
  test('the committed generated files are what codegen.yml generates', async () => {
    expect(await findStaleGeneratedFiles()).toEqual([]);
  });

  test('an edited, a missing and a foreign generated file are each reported', async () => {
    // given: a copy of the inputs inside the project, so codegen finds its plugins in node_modules
    // .tmp/ exists only after a PGlite run (global setup), not on a fresh clone tested on PostgreSQL
    await mkdir(resolve('.tmp'), { recursive: true });
    const dir = await mkdtemp(resolve('.tmp/codegen-check-'));
    try {
      for (const path of ['codegen.yml', 'schema/schema.graphql', 'schema/appsync.graphql', 'client/operations']) {
        await cp(resolve(path), join(dir, path), { recursive: true });
      }
      await cp(resolve('schema/generated/resolvers.ts'), join(dir, 'schema/generated/resolvers.ts'));
      await writeFile(join(dir, 'schema/generated/resolvers.ts'), '// edited by hand\n', { flag: 'a' });
      await writeFile(join(dir, 'schema/generated/leftover.ts'), 'export {};\n');
      // when
      const stale = await findStaleGeneratedFiles('codegen.yml', dir);
      // then
      expect(stale.toSorted((a, b) => a.file.localeCompare(b.file))).toEqual([
        { file: join(dir, 'schema/generated/leftover.ts'), reason: 'not produced by the config' },
        { file: join(dir, 'schema/generated/operations.ts'), reason: 'missing' },
        { file: join(dir, 'schema/generated/resolvers.ts'), reason: 'differs' },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('createClient against an AppSync-shaped server', () => {
  const apiKey = 'da2-testkey';
  const token = 'eyJhbGciOiJSUzI1NiJ9.alice.signature';
  const span = {
    id: '0190c6b0-0000-7000-8000-000000000001', seq: 0, entityType: 'note', who: 'user:alice', did: 'wrote',
    this: 'a note', at: '2026-11-26T10:00:00.000Z', parentId: null, ownerId: 'alice', tenantId: 'acme',
    visibility: 'tenant', status: null, isDeleted: false, name: null, traceId: null, currHash: 'ab'.repeat(32),
    prevHash: null, signature: null, publicKey: null, sigAlg: null, chainSeq: 1, position: 1,
    recordedAt: '2026-11-26T10:00:00.001Z', cursor: 'c1', metadata: null, content: '{"text":"hi"}',
  } satisfies NonNullable<GetSpanQuery['span']>;
  const unauthorized = { errors: [{ errorType: 'UnauthorizedException', message: 'Valid authorization header not provided.' }] };
  const validationError = {
    data: null,
    errors: [{
      message: 'visibility: must be one of private, tenant, public (got "everyone").',
      errorType: 'ValidationError', errorInfo: { field: 'visibility' }, path: ['appendSpan'], locations: [{ line: 2, column: 3 }],
    }],
  };

  interface Received { headers: Record<string, string | string[] | undefined>; body: { query: string; operationName: string; variables: Record<string, unknown> } }
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'];
      received.push({ headers: req.headers, body });
      const reply = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      };
      if (req.headers['x-api-key'] !== apiKey && req.headers.authorization !== token) return reply(401, unauthorized);
      if (body.operationName === 'AppendSpan') return reply(200, validationError);
      if (body.variables.id === 'hidden') {
        return reply(200, { data: { span: null }, errors: [{ message: 'Not allowed to read span hidden.', errorType: 'Unauthorized', path: ['span'] }] });
      }
      return reply(200, { data: { span } });
    });
  });
  let url = '';

  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  test('with an API key it sends the printed query and returns typed data', async () => {
    // given
    const client = createClient({ url, auth: { apiKey } });
    received.length = 0;
    // when
    const data = await client.query(GetSpanDocument, { id: span.id, seq: 0 });
    // then
    expect(data.span?.currHash).toBe(span.currHash);
    expect(data).toEqual({ span });
    expect(received).toHaveLength(1);
    expect(received[0]?.headers['x-api-key']).toBe(apiKey);
    expect(received[0]?.headers.authorization).toBeUndefined();
    expect(received[0]?.headers['content-type']).toBe('application/json');
    expect(received[0]?.body).toEqual({ query: print(GetSpanDocument), operationName: 'GetSpan', variables: { id: span.id, seq: 0 } });
  });

  test('with a token function it sends the raw JWT, asking for it on every request', async () => {
    // given
    let calls = 0;
    const client = createClient({ url, auth: { token: async () => { calls += 1; return token; } } });
    received.length = 0;
    // when
    await client.query(GetSpanDocument, { id: span.id });
    await client.query(GetSpanDocument, { id: span.id });
    // then
    expect(calls).toBe(2);
    expect(received.map((r) => r.headers.authorization)).toEqual([token, token]);
    expect(received[0]?.headers['x-api-key']).toBeUndefined();
  });

  test('a response with errors throws GraphQLRequestError carrying them', async () => {
    // given
    const client = createClient({ url, auth: { token } });
    // when
    const error = await client.mutate(AppendSpanDocument, { input: { visibility: 'everyone' } }).catch((e: unknown) => e);
    // then
    expect(error).toBeInstanceOf(GraphQLRequestError);
    const requestError = error as GraphQLRequestError;
    expect(requestError.errorType).toBe('ValidationError');
    expect(requestError.status).toBe(200);
    expect(requestError.data).toBeNull();
    expect(requestError.errors).toEqual([{ ...validationError.errors[0] }]);
    expect(requestError.message).toBe('ValidationError: visibility: must be one of private, tenant, public (got "everyone"). [HTTP 200, operation AppendSpan, path appendSpan]');
  });

  test('partial data comes with the error', async () => {
    const client = createClient({ url, auth: { apiKey } });
    await expect(client.query(GetSpanDocument, { id: 'hidden' })).rejects.toMatchObject({
      errorType: 'Unauthorized',
      data: { span: null },
      errors: [{ message: 'Not allowed to read span hidden.', errorType: 'Unauthorized', errorInfo: null, path: ['span'], locations: null }],
    });
  });

  test('HTTP 401 with an AppSync body throws GraphQLRequestError with its errorType', async () => {
    const client = createClient({ url, auth: { apiKey: 'da2-wrong' } });
    await expect(client.query(GetSpanDocument, { id: span.id })).rejects.toMatchObject({
      name: 'GraphQLRequestError',
      errorType: 'UnauthorizedException',
      status: 401,
      data: null,
    });
  });

  test('a non-GraphQL error page throws GraphQLRequestError naming the status and the body', async () => {
    // given: a proxy in front of the API answering with HTML
    const client = createClient({
      url,
      auth: { apiKey },
      fetch: () => Promise.resolve(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' })),
    });
    // when
    const error = await client.query(VerifySpanDocument, { id: span.id }).catch((e: unknown) => e);
    // then
    expect(error).toBeInstanceOf(GraphQLRequestError);
    expect(error).toMatchObject({ status: 502, errorType: null });
    expect((error as Error).message).toContain('HTTP 502 Bad Gateway');
    expect((error as Error).message).toContain('<html>Bad gateway</html>');
  });

  test('query() refuses a mutation before sending anything', async () => {
    // given
    const client = createClient({ url, auth: { apiKey } });
    received.length = 0;
    // when
    const sending = client.query(AppendSpanDocument, { input: {} });
    // then
    await expect(sending).rejects.toThrow('query() was given the mutation AppendSpan; send it with mutate().');
    expect(received).toHaveLength(0);
  });

  test('a "Bearer " token is refused: AppSync wants the raw JWT', async () => {
    const client = createClient({ url, auth: { token: `Bearer ${token}` } });
    await expect(client.query(TimelineDocument)).rejects.toThrow('AppSync expects the raw JWT');
  });
});
