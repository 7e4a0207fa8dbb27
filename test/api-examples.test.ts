import { readFile, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

const examplesDir = new URL('../api/examples/', import.meta.url);
const examples = (await readdir(examplesDir)).filter((file) => file.endsWith('.graphql')).sort();

const database = useTestDatabase();
let api: ReturnType<typeof createGraphqlClient>;
let token: string;
let accountId: string;

beforeAll(async () => {
  api = createGraphqlClient(database.db);
  token = await createToken(database.db, 'manager', await createUser(database.db, { role: 'manager' }));
  const closed = await recordClosedWon(database.db, {
    opportunityId: 'example-opp',
    account: { externalId: 'example-acct', name: 'Example Co', segment: 'smb', arrCents: 1_200_000, contractEnd: new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 10) },
    closedWonAt: new Date(),
    context: { goals: 'Onboard 50 seats' },
    actor: { userId: null, role: 'integration', label: 'crm' },
  });
  accountId = closed.account.id;
});

describe('example dashboard queries in api/examples', () => {
  it('there are examples to show in GraphiQL', () => {
    expect(examples).toEqual(expect.arrayContaining(['dashboard.graphql', 'metrics.graphql', 'renewals.graphql', 'account.graphql']));
  });

  it.each(examples)('%s runs against the served schema without errors', async (file) => {
    const query = await readFile(new URL(file, examplesDir), 'utf8');
    const response = await api.request(query, file === 'account.graphql' ? { id: accountId } : {}, token);
    expect(response.body.errors).toBeUndefined();
    expect(Object.values(response.body.data ?? {}).every((value) => value !== null)).toBe(true);
  });
});
