import { beforeAll, describe, expect, it } from 'vitest';
import { GRAPHQL_BODY_LIMIT, QUERY_DOCUMENT_LIMITS, maxNesting } from '../api/limits.ts';
import { useTestDatabase } from './support/database.ts';
import { createGraphqlClient } from './support/graphql.ts';

const ADMIN = 'graphql-limits-admin-token-0001';
const database = useTestDatabase();
let api: ReturnType<typeof createGraphqlClient>;

beforeAll(async () => {
  api = createGraphqlClient(database.db, { bootstrapAdminToken: ADMIN });
});

describe('query document limits', () => {
  it('measures bracket nesting, ignoring brackets inside strings and comments', () => {
    expect(maxNesting('{ a { b } }')).toBe(2);
    expect(maxNesting('query ($x: [[Int]]) { a(x: "{{{{{{") { b } } # {{{{{{{{{')).toBe(3);
    expect(maxNesting('{ a(x: """ {{{{ " \\""" }}}} """) { b } }')).toBe(2);
  });

  it('refuses a document nested thousands of levels deep with a clear error instead of crashing', async () => {
    const response = await api.request(`{ viewer ${'{ user '.repeat(10_000)}${'}'.repeat(10_000)} }`, {}, ADMIN);
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.message).toBe(
      `Query nested too deeply: more than ${QUERY_DOCUMENT_LIMITS.nesting} levels of brackets. Fetch deeper data with a second query.`,
    );
  });

  it('refuses more aliases than the limit', async () => {
    const ok = await api.request(`{ ${Array.from({ length: 50 }, (_, index) => `v${index}: viewer { label }`).join(' ')} }`, {}, ADMIN);
    expect(ok.body.errors).toBeUndefined();
    const response = await api.request(`{ ${Array.from({ length: 51 }, (_, index) => `v${index}: viewer { label }`).join(' ')} }`, {}, ADMIN);
    expect(response.body.errors?.[0]?.message).toMatch(/Too many aliases: at most 50 per query/);
    expect(response.body.data ?? null).toBeNull();
  });

  it('refuses a document with too many tokens', async () => {
    const response = await api.request(`{ stages { ${'key '.repeat(6000)} } }`, {}, ADMIN);
    expect(response.body.errors?.[0]?.message).toMatch(/Query too long: more than 5000 tokens/);
  });

  it('still answers GraphiQL-style introspection, which nests deeply through ofType', async () => {
    const ofType = (levels: number): string => (levels === 0 ? 'name' : `name kind ofType { ${ofType(levels - 1)} }`);
    const response = await api.request(`{ __schema { types { name fields { name type { ${ofType(7)} } } } } }`, {}, ADMIN);
    expect(response.body.errors).toBeUndefined();
    expect(JSON.stringify(response.body.data)).toContain('MoveAccountStagePayload');
  });
});

describe('request body bound, for every caller of the API', () => {
  const send = (body: BodyInit, headers: Record<string, string> = {}) => {
    // A streamed body needs `duplex`, which TypeScript's RequestInit does not know yet.
    const init: RequestInit & { duplex: 'half' } = {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, ...headers },
      body,
      duplex: 'half',
    };
    return api.yoga.fetch('http://lifeline.test/graphql', init);
  };

  it('a body that declares more than GRAPHQL_BODY_LIMIT bytes is refused with 413 before it is read', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }"}'));
        controller.close();
      },
    });
    const response = await send(body, { 'content-length': String(GRAPHQL_BODY_LIMIT + 1) });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ errors: [{ message: 'Request body too large', extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }] });
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it('a Content-Length that is not one whole number is refused with 400', async () => {
    const response = await send('{"query":"{ __typename }"}', { 'content-length': '26, 26' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errors: [{ message: 'Content-Length header is invalid.' }] });
  });

  it('a streamed body with no length is read only until it passes the bound, then refused with 413', async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }"'));
      },
      pull(controller) {
        sent += chunk.byteLength;
        controller.enqueue(chunk);
        if (sent > GRAPHQL_BODY_LIMIT * 4) controller.close();
      },
    });
    const response = await send(body);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }] });
    expect(sent).toBeLessThan(GRAPHQL_BODY_LIMIT * 2);
  });

  it('a streamed body within the bound is answered', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }"}'));
        controller.close();
      },
    });
    const response = await send(body);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
