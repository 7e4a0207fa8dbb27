import { beforeAll, describe, expect, it } from 'vitest';
import { QUERY_DOCUMENT_LIMITS, maxNesting } from '../api/limits.ts';
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
