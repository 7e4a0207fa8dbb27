import { readFile } from 'node:fs/promises';
import { and, asc, eq, like, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { printLifelineSchema } from '../api/schema.ts';
import { type Account, type User, outbox, stageTransitions } from '../db/schema.ts';
import { createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

const database = useTestDatabase();
let api: ReturnType<typeof createGraphqlClient>;
let manager: User;
let managerToken: string;
let csm: User;
let book: Account[];
const BOOTSTRAP_TOKEN = 'bootstrap-admin-token-0123456789';

beforeAll(async () => {
  api = createGraphqlClient(database.db, { bootstrapAdminToken: BOOTSTRAP_TOKEN });
  manager = await createUser(database.db, { role: 'manager', name: 'Maya Manager' });
  managerToken = await createToken(database.db, 'manager', manager);
  csm = await createUser(database.db, { role: 'csm', name: 'Sam CSM' });
  book = [];
  for (let index = 0; index < 7; index += 1) {
    book.push(
      await createAccount(database.db, {
        name: `Book ${String(index).padStart(2, '0')}`,
        stageKey: index < 4 ? 'onboarding' : 'implementation',
        segment: index % 2 === 0 ? 'enterprise' : 'smb',
        csmId: index < 3 ? csm.id : null,
        arrCents: 1_000_000 * (index + 1),
      }),
    );
  }
});

const ACCOUNTS = /* GraphQL */ `
  query Accounts($filter: AccountFilter, $first: Int, $after: String) {
    accounts(filter: $filter, first: $first, after: $after) {
      totalCount
      edges { cursor node { id name version segment arrCents stage { key name } csm { name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const MOVE = /* GraphQL */ `
  mutation Move($input: MoveAccountStageInput!) {
    moveAccountStage(input: $input) {
      account { id version stage { key } }
      transition { direction fromStage { key } toStage { key } actor { name } actorLabel source reason accountVersion }
    }
  }
`;

interface AccountsData {
  accounts: {
    totalCount: number;
    edges: { cursor: string; node: { id: string; name: string; version: number; csm: { name: string } | null; stage: { key: string } } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

describe('GraphQL authentication', () => {
  it('answers 401 with instructions when the bearer token is missing', async () => {
    const response = await api.request('{ stages { key } }');
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.message).toMatch(/Missing bearer token: send the header "Authorization: Bearer <token>"/);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('answers 401 for an unknown or revoked token and for a malformed header', async () => {
    const unknown = await api.request('{ stages { key } }', {}, 'llt_not-a-real-token');
    expect(unknown.status).toBe(401);
    expect(unknown.body.errors?.[0]?.message).toMatch(/unknown or revoked/);
    const malformed = await api.request('{ stages { key } }', {}, undefined, { authorization: 'Token abc' });
    expect(malformed.status).toBe(401);
    expect(malformed.body.errors?.[0]?.message).toMatch(/must be "Bearer <token>"/);
  });

  it('accepts LIFELINE_ADMIN_TOKEN as an admin and a stored token as its user', async () => {
    const bootstrap = await api.request('{ viewer { role label user { name } } }', {}, BOOTSTRAP_TOKEN);
    expect(bootstrap.body.data).toEqual({ viewer: { role: 'admin', label: 'Admin token', user: null } });
    const personal = await api.request('{ viewer { role label user { name } } }', {}, managerToken);
    expect(personal.body.data).toEqual({ viewer: { role: 'manager', label: 'Maya Manager', user: { name: 'Maya Manager' } } });
  });
});

describe('reading accounts', () => {
  it('pages through accounts by name with cursors and a total count', async () => {
    const first = await api.request(ACCOUNTS, { first: 3 }, managerToken);
    const firstPage = first.body.data as unknown as AccountsData;
    expect(first.body.errors).toBeUndefined();
    expect(firstPage.accounts.totalCount).toBe(7);
    expect(firstPage.accounts.edges.map((edge) => edge.node.name)).toEqual(['Book 00', 'Book 01', 'Book 02']);
    expect(firstPage.accounts.pageInfo.hasNextPage).toBe(true);

    const rest = await api.request(ACCOUNTS, { first: 10, after: firstPage.accounts.pageInfo.endCursor }, managerToken);
    const restPage = rest.body.data as unknown as AccountsData;
    expect(restPage.accounts.edges.map((edge) => edge.node.name)).toEqual(['Book 03', 'Book 04', 'Book 05', 'Book 06']);
    expect(restPage.accounts.pageInfo).toEqual({ hasNextPage: false, endCursor: restPage.accounts.edges[3]?.cursor });
  });

  it('filters by stage, owner and segment, and counts what matches', async () => {
    const byStage = (await api.request(ACCOUNTS, { filter: { stage: 'implementation' } }, managerToken)).body.data as unknown as AccountsData;
    expect(byStage.accounts.totalCount).toBe(3);
    expect(byStage.accounts.edges.every((edge) => edge.node.stage.key === 'implementation')).toBe(true);

    const byOwner = (await api.request(ACCOUNTS, { filter: { ownerId: csm.id } }, managerToken)).body.data as unknown as AccountsData;
    expect(byOwner.accounts.edges.map((edge) => edge.node.name)).toEqual(['Book 00', 'Book 01', 'Book 02']);
    expect(byOwner.accounts.edges.every((edge) => edge.node.csm?.name === 'Sam CSM')).toBe(true);

    const combined = (await api.request(ACCOUNTS, { filter: { segment: 'enterprise', stage: 'onboarding' } }, managerToken)).body
      .data as unknown as AccountsData;
    expect(combined.accounts.edges.map((edge) => edge.node.name)).toEqual(['Book 00', 'Book 02']);
  });

  it('reads one account with its history, and null for an unknown id', async () => {
    const target = book[5];
    const found = await api.request(
      'query ($id: ID!) { account(id: $id) { name arrCents renewalDate daysInStage transitions { direction toStage { key } actorLabel } } }',
      { id: target?.id },
      managerToken,
    );
    expect(found.body.data).toEqual({
      account: {
        name: 'Book 05',
        arrCents: 6_000_000,
        renewalDate: '2027-01-01',
        daysInStage: 0,
        transitions: [{ direction: 'initial', toStage: { key: 'implementation' }, actorLabel: 'Test setup' }],
      },
    });
    const missing = await api.request('query ($id: ID!) { account(id: $id) { name } }', { id: 'no-such-account' }, managerToken);
    expect(missing.body).toEqual({ data: { account: null } });
  });

  it('lists the lifecycle stages in order', async () => {
    const response = await api.request('{ stages { key position terminal slaDays ownerRole } }', {}, managerToken);
    const stages = (response.body.data as { stages: { key: string }[] }).stages;
    expect(stages.map((stage) => stage.key)).toEqual(['pre_onboarding', 'onboarding', 'implementation', 'early_adoption', 'mature_adoption', 'churned']);
  });

  it('refuses a page larger than 100 with a message that says how to page', async () => {
    const response = await api.request(ACCOUNTS, { first: 500 }, managerToken);
    const error = response.body.errors?.[0];
    expect(error?.extensions?.code).toMatch(/BAD_USER_INPUT|QUERY_TOO_COMPLEX/);
    expect(error?.message).toMatch(/first|smaller pages/);
  });

  it('refuses a cursor it did not issue', async () => {
    const response = await api.request(ACCOUNTS, { after: 'garbage' }, managerToken);
    expect(response.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
    expect(response.body.errors?.[0]?.message).toMatch(/Pass the `endCursor` of a previous page/);
  });

  it('rejects a query that would cost too much, naming the limit it hit', async () => {
    const nested = '{ accounts(first: 5) { edges { node { csm { name } transitions { actor { name } fromStage { name } } } } } }';
    expect((await api.request(nested, {}, managerToken)).body.errors).toBeUndefined();
    const costly = '{ accounts(first: 100) { edges { node { transitions(first: 100) { id actor { name } toStage { name } } } } } }';
    const response = await api.request(costly, {}, managerToken);
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'complexity' });
    expect(response.body.errors?.[0]?.message).toMatch(/^Query complexity is \d+, over the limit of \d+\. Ask for smaller pages/);
    expect(response.body.data ?? null).toBeNull();
  });

  it('prices a document written without variables the same on every run: a cheap one always answers, a costly one never', async () => {
    const cheap = '{ accounts(first: 5) { edges { node { csm { name } transitions { actor { name } } } } } }';
    const costly = '{ accounts(first: 100) { edges { node { transitions(first: 100) { id actor { name } } } } } }';
    for (let run = 0; run < 3; run += 1) {
      expect((await api.request(cheap, {}, managerToken)).body.errors).toBeUndefined();
      const response = await api.request(costly, {}, managerToken);
      expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'complexity' });
      expect(response.body.data ?? null).toBeNull();
    }
  });

  it('prices page sizes passed as variables the same as written ones, on every run of the same document', async () => {
    const query = 'query ($first: Int, $nested: Int) { accounts(first: $first) { edges { node { transitions(first: $nested) { id } } } } }';
    expect((await api.request(query, { first: 5, nested: 5 }, managerToken)).body.errors).toBeUndefined();
    // The same document again (compiled and cached by now) with costly variables is still refused.
    const response = await api.request(query, { first: 100, nested: 100 }, managerToken);
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'complexity' });
    expect(response.body.data ?? null).toBeNull();
  });
});

describe('moving a stage through GraphQL', () => {
  it('moves the account, returns the new version and the recorded transition', async () => {
    const account = await createAccount(database.db, { stageKey: 'onboarding', name: 'Movable Inc' });
    const response = await api.request(MOVE, { input: { accountId: account.id, toStage: 'implementation', expectedVersion: 1, reason: 'Kickoff held' } }, managerToken);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data).toEqual({
      moveAccountStage: {
        account: { id: account.id, version: 2, stage: { key: 'implementation' } },
        transition: {
          direction: 'forward',
          fromStage: { key: 'onboarding' },
          toStage: { key: 'implementation' },
          actor: { name: 'Maya Manager' },
          actorLabel: 'Maya Manager',
          source: 'api',
          reason: 'Kickoff held',
          accountVersion: 2,
        },
      },
    });
  });

  it('queues the same audit note for the Slack channel as a move made in Slack', async () => {
    const account = await createAccount(database.db, { stageKey: 'onboarding', name: 'Audited Inc' });
    const response = await api.request(MOVE, { input: { accountId: account.id, toStage: 'implementation', expectedVersion: 1 } }, managerToken);
    expect(response.body.errors).toBeUndefined();
    const [transition] = await database.db.select().from(stageTransitions).where(and(eq(stageTransitions.accountId, account.id), eq(stageTransitions.accountVersion, 2)));
    const notes = await database.db.select().from(outbox).where(like(outbox.dedupeKey, `stage_audit:${account.id}:%`));
    expect(notes.map((note) => [note.kind, note.target, note.payload])).toEqual([
      ['stage_audit', 'channel:handoffs', { accountId: account.id, transitionId: transition?.id }],
    ]);
  });

  it('answers BAD_USER_INPUT, saying why, to a backward move without a reason or a move to Churned without a churn reason, and moves nothing', async () => {
    // A move to Churned names one of the churn reasons (churnReasonKey); its text is optional.
    for (const [from, to, field, says, churnReasonKey] of [
      ['early_adoption', 'onboarding', 'reason', 'Moving Reasonless early_adoption backward needs a reason, so the team knows why.', undefined],
      [
        'mature_adoption',
        'churned',
        'churnReasonKey',
        'Moving Reasonless mature_adoption to Churned needs a churn reason (churnReasonKey), so the team knows why the customer left: use one of budget, champion_left, product_gaps, competitor, acquired, out_of_business, poor_onboarding, low_adoption. Text in reason is optional.',
        'budget',
      ],
    ] as const) {
      const account = await createAccount(database.db, { stageKey: from, name: `Reasonless ${from}` });
      const response = await api.request(MOVE, { input: { accountId: account.id, toStage: to, expectedVersion: 1, reason: '  ' } }, managerToken);
      expect(response.body.errors?.[0]).toMatchObject({ message: says, extensions: { code: 'BAD_USER_INPUT', field } });
      const history = await database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, account.id)).orderBy(asc(stageTransitions.accountVersion));
      expect(history).toHaveLength(1);
      expect(await database.db.select().from(outbox).where(like(outbox.dedupeKey, `stage_audit:${account.id}:%`))).toEqual([]);

      const moved = await api.request(MOVE, { input: { accountId: account.id, toStage: to, expectedVersion: 1, reason: 'Budget cut', ...(churnReasonKey ? { churnReasonKey } : {}) } }, managerToken);
      expect(moved.body.data).toMatchObject({ moveAccountStage: { account: { version: 2, stage: { key: to } }, transition: { reason: 'Budget cut' } } });
    }
  });

  it('answers FORBIDDEN to a CSM skipping a stage on their own account, naming the moves they may make', async () => {
    const account = await createAccount(database.db, { stageKey: 'onboarding', csmId: csm.id, name: 'Skipper Co' });
    const token = await createToken(database.db, 'csm', csm);
    const response = await api.request(MOVE, { input: { accountId: account.id, toStage: 'mature_adoption', expectedVersion: 1 } }, token);
    expect(response.body.errors?.[0]).toMatchObject({
      message:
        'As its CSM you may move Skipper Co one step forward (to Implementation), back to any earlier stage, or to Churned, so not straight to Mature adoption. ' +
        'Move it one stage at a time, or ask a manager to make this move.',
      extensions: { code: 'FORBIDDEN' },
    });
  });

  it('answers STALE_VERSION with who moved it, and leaves the account as it was', async () => {
    const account = await createAccount(database.db, { stageKey: 'onboarding' });
    await api.request(MOVE, { input: { accountId: account.id, toStage: 'implementation', expectedVersion: 1 } }, managerToken);
    const stale = await api.request(MOVE, { input: { accountId: account.id, toStage: 'churned', expectedVersion: 1 } }, managerToken);
    expect(stale.body.errors?.[0]?.extensions).toEqual({ code: 'STALE_VERSION', field: 'expectedVersion' });
    expect(stale.body.errors?.[0]?.message).toMatch(/Maya Manager moved it to Implementation at/);
    const after = await api.request('query ($id: ID!) { account(id: $id) { version stage { key } } }', { id: account.id }, managerToken);
    expect(after.body.data).toEqual({ account: { version: 2, stage: { key: 'implementation' } } });
  });

  it('answers FORBIDDEN to a CSM moving an account they do not own', async () => {
    const account = await createAccount(database.db, { stageKey: 'onboarding' });
    const otherCsm = await createUser(database.db, { role: 'csm' });
    const token = await createToken(database.db, 'csm', otherCsm);
    const response = await api.request(MOVE, { input: { accountId: account.id, toStage: 'implementation', expectedVersion: 1 } }, token);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(response.body.errors?.[0]?.message).toMatch(/only move accounts you own/);
  });

  it('explains bad input: an unknown stage, and a variable of the wrong type', async () => {
    const account = await createAccount(database.db, { stageKey: 'onboarding' });
    const unknownStage = await api.request(MOVE, { input: { accountId: account.id, toStage: 'live', expectedVersion: 1 } }, managerToken);
    expect(unknownStage.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'toStage' } });
    expect(unknownStage.body.errors?.[0]?.message).toMatch(/There is no stage "live". Use one of:/);

    const wrongType = await api.request(MOVE, { input: { accountId: account.id, toStage: 'implementation', expectedVersion: 'one' } }, managerToken);
    expect(wrongType.body.errors?.[0]?.message).toMatch(/expectedVersion.*Int cannot represent non-integer value: "one"/);
  });

  it('masks unexpected errors instead of leaking internals', async () => {
    const broken = await createTestDatabase();
    try {
      await broken.db.execute(sql`drop table lifecycle_stages cascade`);
      const brokenApi = createGraphqlClient(broken.db, { bootstrapAdminToken: BOOTSTRAP_TOKEN });
      const response = await brokenApi.request('{ stages { key } }', {}, BOOTSTRAP_TOKEN);
      expect(response.body.errors?.[0]?.message).toBe('Unexpected error.');
      expect(JSON.stringify(response.body)).not.toMatch(/lifecycle_stages|relation|select/i);
    } finally {
      await broken.destroy();
    }
  });

  it('says the database is unavailable, with a 503 and a retry hint, when it cannot be reached', async () => {
    const gone = await createTestDatabase();
    const goneApi = createGraphqlClient(gone.db, { bootstrapAdminToken: BOOTSTRAP_TOKEN });
    await gone.close();
    try {
      const response = await goneApi.request('{ stages { key } }', {}, BOOTSTRAP_TOKEN);
      expect(response.status).toBe(503);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(response.body.errors?.[0]?.message).toMatch(/database is unavailable right now, so nothing was read or changed/);
    } finally {
      await gone.destroy();
    }
  });
});

describe('the checked-in schema', () => {
  it('api/schema.graphql matches the served schema (run `npm run schema` after changing the API)', async () => {
    const checkedIn = await readFile(new URL('../api/schema.graphql', import.meta.url), 'utf8');
    expect(checkedIn).toBe(printLifelineSchema());
  });
});
