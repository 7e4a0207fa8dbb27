import { beforeAll, describe, expect, it } from 'vitest';
import type { TokenRole, User } from '../db/schema.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

const database = useTestDatabase();
let api: ReturnType<typeof createGraphqlClient>;
const tokens = new Map<TokenRole, string>();
const people = new Map<TokenRole, User>();
let sequence = 0;

beforeAll(async () => {
  api = createGraphqlClient(database.db);
  for (const role of ['admin', 'manager', 'csm', 'ae', 'viewer'] as const) {
    const person = await createUser(database.db, { role, name: `The ${role}` });
    people.set(role, person);
    tokens.set(role, await createToken(database.db, role, person));
  }
  tokens.set('integration', await createToken(database.db, 'integration'));
});

function person(role: TokenRole): User {
  const found = people.get(role);
  if (!found) throw new Error(`no ${role} in the fixture`);
  return found;
}

interface Operation {
  name: string;
  allowed: readonly TokenRole[];
  prepare: () => Promise<{ query: string; variables: Record<string, unknown> }>;
}

const crm = { userId: null, role: 'integration', label: 'crm' } as const;

const operations: Operation[] = [
  {
    name: 'read accounts',
    allowed: ['admin', 'manager', 'csm', 'ae', 'viewer'],
    prepare: async () => ({ query: '{ accounts(first: 1) { totalCount } }', variables: {} }),
  },
  {
    name: 'read handoffs and renewals',
    allowed: ['admin', 'manager', 'csm', 'ae', 'viewer'],
    prepare: async () => ({ query: '{ handoffs { id } renewals(withinDays: 30) { id } }', variables: {} }),
  },
  {
    name: 'read metrics',
    allowed: ['admin', 'manager'],
    prepare: async () => ({ query: '{ metrics(from: "2026-01-01", to: "2026-03-31") { groups { revenue { nrr } } } }', variables: {} }),
  },
  {
    name: "move the stage of another CSM's account",
    allowed: ['admin', 'manager'],
    prepare: async () => {
      const account = await createAccount(database.db, { stageKey: 'onboarding', csmId: null });
      return {
        query: 'mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { account { version } } }',
        variables: { input: { accountId: account.id, toStage: 'implementation', expectedVersion: 1 } },
      };
    },
  },
  {
    name: 'move the stage of an account the CSM owns',
    allowed: ['admin', 'manager', 'csm'],
    prepare: async () => {
      const account = await createAccount(database.db, { stageKey: 'onboarding', csmId: person('csm').id });
      return {
        query: 'mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { account { version } } }',
        variables: { input: { accountId: account.id, toStage: 'implementation', expectedVersion: 1 } },
      };
    },
  },
  {
    name: 'send usage (ingestion)',
    allowed: ['admin', 'integration'],
    prepare: async () => {
      const account = await createAccount(database.db);
      return {
        query: 'mutation ($rows: [UsageDayInput!]!) { recordUsage(rows: $rows) { written } }',
        variables: { rows: [{ accountId: account.id, day: '2026-11-01', activeUsers: 3, seats: 10 }] },
      };
    },
  },
  {
    name: 'upsert accounts (ingestion)',
    allowed: ['admin', 'integration'],
    prepare: async () => ({
      query: 'mutation ($accounts: [UpsertAccountInput!]!) { upsertAccounts(accounts: $accounts) { created } }',
      variables: { accounts: [{ externalId: `roles-${++sequence}`, name: 'Role Co', segment: 'smb', arrCents: 100 }] },
    }),
  },
  {
    name: 'record a closed-won deal',
    allowed: ['admin', 'integration'],
    prepare: async () => {
      sequence += 1;
      return {
        query: 'mutation ($input: RecordClosedWonInput!) { recordClosedWon(input: $input) { created } }',
        variables: {
          input: {
            opportunityId: `roles-opp-${sequence}`,
            account: { externalId: `roles-cw-${sequence}`, name: 'Won Co', segment: 'smb', arrCents: 100 },
            closedWonAt: '2026-11-01T10:00:00Z',
          },
        },
      };
    },
  },
  {
    name: 'confirm a handoff where the AE is the seller',
    allowed: ['admin', 'manager', 'ae'],
    prepare: async () => {
      sequence += 1;
      const { handoff } = await recordClosedWon(database.db, {
        opportunityId: `roles-confirm-${sequence}`,
        account: { externalId: `roles-confirm-${sequence}`, name: 'Confirm Co', segment: 'smb', arrCents: 100 },
        aeId: person('ae').id,
        csmId: person('csm').id,
        closedWonAt: new Date('2026-11-01T10:00:00Z'),
        context: {},
        actor: crm,
      });
      if (!handoff) throw new Error('A new account was recorded as an existing customer: no handoff');
      return { query: 'mutation ($id: ID!) { confirmHandoff(handoffId: $id) { status } }', variables: { id: handoff.id } };
    },
  },
  {
    name: 'define a stage',
    allowed: ['admin'],
    prepare: async () => ({
      query: 'mutation ($input: DefineStageInput!) { defineStage(input: $input) { key } }',
      variables: { input: { key: `stage_${++sequence}`, name: 'Extra', position: 100 + sequence, ownerRole: 'csm' } },
    }),
  },
  {
    name: 'create an API token',
    allowed: ['admin'],
    prepare: async () => ({ query: 'mutation { createApiToken(name: "sync", role: integration) { token } }', variables: {} }),
  },
  {
    name: 'link a Slack user',
    allowed: ['admin'],
    prepare: async () => {
      const someone = await createUser(database.db, { slackUserId: null });
      return {
        query: 'mutation ($id: ID!, $slack: String) { linkSlackUser(userId: $id, slackUserId: $slack) { slackUserId } }',
        variables: { id: someone.id, slack: `U${String(++sequence).padStart(8, '0')}` },
      };
    },
  },
];

const roles: TokenRole[] = ['admin', 'manager', 'csm', 'ae', 'viewer', 'integration'];
const matrix = operations.flatMap((operation) =>
  roles.map((role) => ({ operation, role, allowed: operation.allowed.includes(role) })),
);

describe('role × operation', () => {
  it.each(matrix)('$role: $operation.name → allowed $allowed', async ({ operation, role, allowed }) => {
    const { query, variables } = await operation.prepare();
    const response = await api.request(query, variables, tokens.get(role));
    if (allowed) {
      expect(response.body.errors).toBeUndefined();
    } else {
      expect(response.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      // Each refusal says what the role cannot do, so the person knows whom to ask.
      expect(response.body.errors?.[0]?.message).toMatch(/role|Only|only/);
    }
  });
});

describe('what an account executive sees', () => {
  it('lists only the accounts they sold, and gets null for anyone else’s account', async () => {
    const mine = await createAccount(database.db, { name: 'AE Own Account', aeId: person('ae').id });
    const other = await createAccount(database.db, { name: 'Someone Else Account' });
    const list = await api.request('{ accounts(first: 100) { totalCount edges { node { id } } } }', {}, tokens.get('ae'));
    const ids = (list.body.data as { accounts: { edges: { node: { id: string } }[] } }).accounts.edges.map((edge) => edge.node.id);
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(other.id);
    const single = await api.request('query ($id: ID!) { account(id: $id) { name } }', { id: other.id }, tokens.get('ae'));
    expect(single.body.data).toEqual({ account: null });
  });
});
