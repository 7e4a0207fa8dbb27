import { beforeAll, describe, expect, it } from 'vitest';
import { type GraphQLNamedType, getNamedType, isLeafType, isNonNullType, isObjectType } from 'graphql';
import { schema } from '../api/schema.ts';
import { systemReader } from '../domain/actors.ts';
import { count, desc, eq, inArray } from 'drizzle-orm';
import { type Account, type HealthStatus, type User, accountHealth, accounts, healthSummaryColumns, lifecycleStages, renewals, users } from '../db/schema.ts';
import { listAccounts } from '../domain/accounts/listing.ts';
import { healthWords } from '../domain/health/words.ts';
import { type TestDatabase, createTestDatabase, StatementCounter, useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { setHealth } from './support/health.ts';
import { DAY_MS } from '../domain/dates.ts';

const counter = new StatementCounter();
const database = useTestDatabase({ logger: counter });
let api: ReturnType<typeof createGraphqlClient>;
let token: string;
let csm: User;
const named = new Map<string, Account>();

const inDays = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);

async function withHealth(account: Account, score: number, status: HealthStatus, scoreWeekAgo: number | null) {
  await setHealth(database.db, account.id, {
    score,
    status,
    scoreDayAgo: null,
    scoreWeekAgo,
    reasons: [`score ${score}`],
    components: {
      usage: { score, weight: 40, detail: `${score}% of seats active` },
      support: { score: null, weight: 0, detail: 'No tickets' },
      nps: { score: 70, weight: 30, detail: 'NPS 8 from the champion' },
      engagement: { score: 60, weight: 30, detail: 'Last touch 5 days ago' },
    },
    facts: [score, 12, 0],
    scoreWeekAgoFrom: new Date(Date.now() - 9 * 86_400_000),
  });
}

beforeAll(async () => {
  api = createGraphqlClient(database.db);
  token = await createToken(database.db, 'viewer', await createUser(database.db, { role: 'viewer' }));
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor' });
  const book: [name: string, arr: number, renewalInDays: number, health: [number, HealthStatus, number | null] | null, enteredDaysAgo: number][] = [
    ['Acme Analytics', 5_000_000, 30, [82, 'healthy', 85], 3],
    ['Brightwave Health', 9_000_000, 200, [35, 'critical', 75], 40],
    ['Cobalt Logistics', 1_000_000, 60, [55, 'at_risk', 57], 10],
    ['Driftwood Media', 7_000_000, 400, null, 100],
    ['Evergreen Foods', 3_000_000, 10, [65, 'at_risk', 90], 1],
  ];
  for (const [name, arrCents, renewal, health, entered] of book) {
    const account = await createAccount(database.db, {
      name,
      arrCents,
      contractEnd: inDays(renewal),
      csmId: name.startsWith('A') || name.startsWith('E') ? csm.id : null,
      enteredAt: new Date(Date.now() - entered * DAY_MS),
    });
    named.set(name, account);
    if (health) await withHealth(account, ...health);
  }
});

const LIST = /* GraphQL */ `
  query ($filter: AccountFilter, $orderBy: AccountOrder, $first: Int, $after: String) {
    accounts(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      edges { node { name health { score status dropOverWeek } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

interface ListData {
  accounts: { totalCount: number; edges: { node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

async function names(variables: Record<string, unknown>): Promise<string[]> {
  const response = await api.request(LIST, { first: 50, ...variables }, token);
  expect(response.body.errors).toBeUndefined();
  return (response.body.data as unknown as ListData).accounts.edges.map((edge) => edge.node.name.split(' ')[0] ?? '');
}

describe('ordering accounts', () => {
  it.each([
    ['health', ['Brightwave', 'Cobalt', 'Evergreen', 'Acme', 'Driftwood']],
    ['health_drop', ['Brightwave', 'Evergreen', 'Acme', 'Cobalt', 'Driftwood']],
    ['renewal_date', ['Evergreen', 'Acme', 'Cobalt', 'Brightwave', 'Driftwood']],
    ['arr', ['Brightwave', 'Driftwood', 'Acme', 'Evergreen', 'Cobalt']],
    ['time_in_stage', ['Driftwood', 'Brightwave', 'Cobalt', 'Acme', 'Evergreen']],
    ['name', ['Acme', 'Brightwave', 'Cobalt', 'Driftwood', 'Evergreen']],
  ])('orders by %s, accounts without the value last', async (orderBy, expected) => {
    expect(await names({ orderBy })).toEqual(expected);
  });

  it('pages through an ordering with cursors without skipping or repeating', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page += 1) {
      const response = await api.request(LIST, { orderBy: 'health_drop', first: 2, after }, token);
      const data = (response.body.data as unknown as ListData).accounts;
      seen.push(...data.edges.map((edge) => edge.node.name.split(' ')[0] ?? ''));
      if (!data.pageInfo.hasNextPage) break;
      after = data.pageInfo.endCursor;
    }
    expect(seen).toEqual(['Brightwave', 'Evergreen', 'Acme', 'Cobalt', 'Driftwood']);
  });

  it('refuses a cursor from another ordering, saying to start again', async () => {
    const first = await api.request(LIST, { orderBy: 'arr', first: 1 }, token);
    const cursor = (first.body.data as unknown as ListData).accounts.pageInfo.endCursor;
    const mixed = await api.request(LIST, { orderBy: 'health', first: 1, after: cursor }, token);
    expect(mixed.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
    expect(mixed.body.errors?.[0]?.message).toMatch(/ordered by arr, not health/);
  });
});

describe('filtering accounts', () => {
  it('by health status, renewal window, owner and name, with a matching total', async () => {
    expect(await names({ filter: { healthStatus: 'at_risk' } })).toEqual(['Cobalt', 'Evergreen']);
    expect(await names({ filter: { renewalWithinDays: 60 }, orderBy: 'renewal_date' })).toEqual(['Evergreen', 'Acme', 'Cobalt']);
    expect(await names({ filter: { ownerId: csm.id, healthStatus: 'at_risk' } })).toEqual(['Evergreen']);
    expect(await names({ filter: { search: 'WAVE' } })).toEqual(['Brightwave']);
    const total = await api.request(LIST, { filter: { renewalWithinDays: 60 }, first: 1 }, token);
    expect((total.body.data as unknown as ListData).accounts.totalCount).toBe(3);
  });

  it('explains a negative renewal window', async () => {
    const response = await api.request(LIST, { filter: { renewalWithinDays: -5 } }, token);
    expect(response.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'filter.renewalWithinDays' } });
  });
});

describe('the page query', () => {
  it('returns accounts, stages, health, owners and renewals exactly as a plain select reads them', async () => {
    const [renewed] = await database.db.select().from(accounts).orderBy(accounts.name).limit(1);
    if (!renewed) throw new Error('no accounts to renew');
    await database.db.insert(renewals).values([
      { accountId: renewed.id, contractEnd: '2026-12-31', windowOpensOn: '2026-10-02', status: 'renewed', outcome: 'renewed for a year', closedAt: new Date() },
      { accountId: renewed.id, contractEnd: '2027-12-31', windowOpensOn: '2027-10-02' },
    ]);
    const page = await listAccounts(database.db, { reader: systemReader, first: 100, orderBy: 'name' });
    expect(page.rows.length).toBeGreaterThan(0);
    expect(page.rows.find((row) => row.account.id === renewed.id)?.renewal).toMatchObject({ contractEnd: '2027-12-31', status: 'upcoming' });
    const ids = page.rows.map((row) => row.account.id);
    const byId = new Map((await database.db.select().from(accounts).where(inArray(accounts.id, ids))).map((row) => [row.id, row]));
    expect(page.rows.map((row) => row.account)).toEqual(ids.map((id) => byId.get(id)));
    // As readers see it: the stored columns, the reasons and components in words (said from the facts, or as stored).
    const healthById = new Map(
      (await database.db.select(healthSummaryColumns).from(accountHealth).where(inArray(accountHealth.accountId, ids))).map(
        ({ facts, stageName, npsWorstSaid, reasons, components, ...row }) => [row.accountId, { ...row, ...healthWords({ facts, stageName, npsWorstSaid, reasons, components }) }],
      ),
    );
    expect(page.rows.some((row) => row.health?.components)).toBe(true);
    expect(page.rows.map((row) => row.health)).toEqual(ids.map((id) => healthById.get(id) ?? null));
    const usersById = new Map((await database.db.select().from(users)).map((row) => [row.id, row]));
    expect(page.rows.map((row) => [row.csm, row.ae])).toEqual(
      page.rows.map(({ account }) => [usersById.get(account.csmId ?? '') ?? null, usersById.get(account.aeId ?? '') ?? null]),
    );
    expect(page.rows.some((row) => row.csm !== null)).toBe(true);
    const stageRows = await database.db.select().from(lifecycleStages);
    for (const row of page.rows) expect(row.stage).toEqual(stageRows.find((stage) => stage.key === row.account.stageKey));
    const latest = await database.db.selectDistinctOn([renewals.accountId]).from(renewals).where(inArray(renewals.accountId, ids)).orderBy(renewals.accountId, desc(renewals.contractEnd));
    const latestById = new Map(latest.map((row) => [row.accountId, row]));
    expect(page.rows.map((row) => row.renewal)).toEqual(ids.map((id) => latestById.get(id) ?? null));
    expect(page.rows.some((row) => row.renewal !== null)).toBe(true);
  });
});

describe('cost of a dashboard page', () => {
  const DASHBOARD = /* GraphQL */ `
    query ($first: Int) {
      accounts(first: $first, orderBy: health) {
        edges { node { name stage { name } daysInStage csm { name } ae { name } health { score status reasons } renewal { contractEnd status } } }
      }
    }
  `;

  it('a page of 100 accounts with owners, stage, health and renewal runs the same few statements as a page of 5', async () => {
    const ae = await createUser(database.db, { role: 'ae' });
    for (let index = 0; index < 100; index += 1) {
      const account = await createAccount(database.db, { name: `Bulk ${String(index).padStart(3, '0')}`, csmId: csm.id, aeId: ae.id });
      if (index % 2 === 0) await withHealth(account, 50 + (index % 40), 'at_risk', null);
    }
    const pageStatements = () => counter.statements.filter((statement) => !statement.includes('"api_tokens"'));
    counter.reset();
    const small = await api.request(DASHBOARD, { first: 5 }, token);
    expect(small.body.errors).toBeUndefined();
    // One statement: the page, joined with stage, health, owners, the latest renewal and the champions who left
    // lately (said beside the health reasons); plus the token lookup unless the token was seen in the last few seconds.
    expect(pageStatements()).toHaveLength(1);
    expect(pageStatements()[0]).toContain('"contacts"');
    expect(counter.statements.length).toBeLessThanOrEqual(2);

    counter.reset();
    const large = await api.request(DASHBOARD, { first: 100 }, token);
    expect(large.body.errors).toBeUndefined();
    expect((large.body.data as { accounts: { edges: unknown[] } }).accounts.edges).toHaveLength(100);
    // Whatever the page size; the token, just looked up, normally comes from this process's cache (for
    // TOKEN_CACHE_TTL_MS, which a slow machine can outlast between the two requests).
    expect(pageStatements()).toHaveLength(1);
    expect(counter.statements.length).toBeLessThanOrEqual(2);
    // The page size is written into the statement, not sent as a parameter: PostgreSQL would re-plan a prepared
    // `limit $1` on every request (db/account-rows.ts, inlineLimit).
    expect(pageStatements()[0]).toMatch(/ limit 101$/);
  });
});

describe('what a page reads', () => {
  const pageStatement = () => {
    const found = counter.statements.find((statement) => statement.includes('"sort_key"'));
    if (!found) throw new Error(`no page statement among ${counter.statements.length}`);
    return found;
  };

  it('reads stage, owners, renewal and the health reasons and components only when the query selects them', async () => {
    counter.reset();
    const lean = await api.request('{ accounts(first: 10, orderBy: name) { edges { node { name } } } }', {}, token);
    expect(lean.body.errors).toBeUndefined();
    for (const table of ['"lifecycle_stages"', '"users"', '"csm_user"', '"renewals"', '"account_health"']) expect(pageStatement()).not.toContain(table);

    counter.reset();
    const scores = await api.request('{ accounts(first: 10, orderBy: health) { edges { node { name health { score status } } } } }', {}, token);
    expect(scores.body.errors).toBeUndefined();
    expect(pageStatement()).not.toContain('"components"');
    expect(pageStatement()).not.toContain('"reasons"');

    counter.reset();
    const everything = await api.request(
      '{ accounts(first: 10, orderBy: health) { edges { node { name stage { name } csm { name } ae { name } renewal { status } health { score reasons components { name } } } } } }',
      {},
      token,
    );
    expect(everything.body.errors).toBeUndefined();
    for (const column of ['"lifecycle_stages"', '"csm_user"', '"ae_user"', '"renewals"', '"components"', '"reasons"']) expect(pageStatement()).toContain(column);
  });

  it('answers the same whether a field is selected directly or through fragments', async () => {
    const direct = await api.request(
      '{ accounts(first: 20, orderBy: health_drop) { edges { node { name stage { key } csm { name } renewal { contractEnd } health { score reasons components { name score } } } } } }',
      {},
      token,
    );
    const fragments = await api.request(
      `{ accounts(first: 20, orderBy: health_drop) { edges { ...Edge } } }
       fragment Edge on AccountEdge { node { name ... on Account { stage { key } csm { name } } renewal { contractEnd } health { score ...Why } } }
       fragment Why on AccountHealth { reasons components { name score } }`,
      {},
      token,
    );
    expect(direct.body.errors).toBeUndefined();
    expect(fragments.body.errors).toBeUndefined();
    expect(fragments.body.data).toEqual(direct.body.data);
    const edges = (direct.body.data as { accounts: { edges: { node: { health: { components: unknown[] } | null } }[] } }).accounts.edges;
    expect(edges.some((edge) => (edge.node.health?.components.length ?? 0) > 0)).toBe(true);
  });

  it('reads only the columns of the fields the query selects', async () => {
    counter.reset();
    const page = await api.request(
      '{ accounts(first: 10, orderBy: health) { edges { node { name stage { name } csm { name } renewal { status } health { score status } } } } }',
      {},
      token,
    );
    expect(page.body.errors).toBeUndefined();
    for (const column of ['"name"', '"status"', '"score"']) expect(pageStatement()).toContain(column);
    for (const column of ['"external_id"', '"domain"', '"arr_cents"', '"email"', '"role"', '"entry_criteria"', '"window_opens_on"', '"outcome"', '"reasons"', '"components"']) {
      expect(pageStatement()).not.toContain(column);
    }
  });

  it('answers every field the same from a page that read only its columns as from the whole account', { timeout: 120_000 }, async () => {
    // A manager above the CSM, so a user's `manager` has something to answer.
    const manager = await createUser(database.db, { role: 'manager', name: 'Mira Castellanos' });
    await database.db.update(users).set({ managerId: manager.id }).where(eq(users.id, csm.id));
    const admin = await createToken(database.db, 'admin', await createUser(database.db, { role: 'admin' }));
    const PAGE = 'accounts(first: 10, orderBy: renewal_date)';
    // A renewal with an outcome on the page, so the renewal's fields have something to answer.
    const first = await api.request(`{ ${PAGE} { edges { node { id } } } }`, {}, admin);
    const [onPage] = (first.body.data as { accounts: { edges: { node: { id: string } }[] } }).accounts.edges;
    if (!onPage) throw new Error('an empty page');
    await database.db.insert(renewals).values({ accountId: onPage.node.id, contractEnd: '2030-06-30', windowOpensOn: '2030-04-01', status: 'open', outcome: 'asked for a discount' });
    // Each field of Account alone, and each field of the types a listing joins alone under it: the narrowest reads a
    // page makes. Other fields of object type read only the account's id; one leaf each.
    const joined = new Set(['stage', 'csm', 'ae', 'renewal', 'health']);
    const leafOf = (type: GraphQLNamedType): string => {
      if (!isObjectType(type)) return '';
      const leaf = Object.values(type.getFields()).find((field) => isLeafType(getNamedType(field.type)) && field.args.every((arg) => !isNonNullType(arg.type)));
      return leaf ? ` { ${leaf.name} }` : ' { __typename }';
    };
    const account = schema.getType('Account');
    if (!isObjectType(account)) throw new Error('Account is not an object type');
    const selections: string[] = [];
    for (const field of Object.values(account.getFields())) {
      if (field.args.some((arg) => isNonNullType(arg.type))) continue;
      const type = getNamedType(field.type);
      if (!isObjectType(type)) {
        selections.push(field.name);
        continue;
      }
      if (!joined.has(field.name)) {
        selections.push(`${field.name}${leafOf(type)}`);
        continue;
      }
      for (const sub of Object.values(type.getFields())) {
        if (sub.args.some((arg) => isNonNullType(arg.type))) continue;
        selections.push(`${field.name} { ${sub.name}${leafOf(getNamedType(sub.type))} }`);
      }
    }
    expect(selections).toEqual(expect.arrayContaining(['name', 'stage { entryCriteria }', 'health { dropOverWeek }', 'renewal { windowOpensOn }']));
    const managerSelection = selections.find((selection) => selection.startsWith('csm { manager {'));
    if (!managerSelection) throw new Error('User has no manager field to check');
    const answered = new Set<string>();
    for (const selection of selections) {
      const listed = await api.request(`{ ${PAGE} { edges { node { id ${selection} } } } }`, {}, admin);
      expect(listed.body.errors, selection).toBeUndefined();
      const nodes = (listed.body.data as { accounts: { edges: { node: Record<string, unknown> }[] } }).accounts.edges.map((edge) => edge.node);
      const whole = await api.request(`{ ${nodes.map((node, index) => `a${index}: account(id: "${String(node.id)}") { id ${selection} }`).join(' ')} }`, {}, admin);
      expect(whole.body.errors, selection).toBeUndefined();
      expect(nodes, selection).toEqual(nodes.map((_node, index) => (whole.body.data as Record<string, unknown>)[`a${index}`]));
      if (nodes.some((node) => JSON.stringify(Object.values(node)[1] ?? null).replace(/null|\{|\}|"[a-zA-Z]+":|\[|\]|,/g, '') !== '')) answered.add(selection);
    }
    // The comparison is between answers, not between nulls: the joined rows' fields have values on this book.
    expect([...answered]).toEqual(expect.arrayContaining(['name', managerSelection, 'csm { email }', 'stage { entryCriteria }', 'health { reasons }', 'health { dropOverWeek }', 'renewal { windowOpensOn }', 'renewal { outcome }']));
  });

  it('counts a health status from account_health alone, and without a health filter from accounts alone', async () => {
    counter.reset();
    const atRisk = await api.request('{ accounts(first: 1, filter: { healthStatus: at_risk }) { totalCount } }', {}, token);
    expect(atRisk.body.errors).toBeUndefined();
    const countStatement = () => counter.statements.find((statement) => statement.includes('count('));
    expect(countStatement()).toContain('"account_health"');
    expect(countStatement()).not.toContain('"accounts"');
    const [atRiskRows] = await database.db.select({ total: count() }).from(accountHealth).where(eq(accountHealth.status, 'at_risk'));
    expect((atRisk.body.data as unknown as ListData).accounts.totalCount).toBe(atRiskRows?.total);
    expect(atRiskRows?.total).toBeGreaterThan(0);

    counter.reset();
    const all = await api.request('{ accounts(first: 1) { totalCount } }', {}, token);
    expect(countStatement()).toContain('"accounts"');
    expect(countStatement()).not.toContain('"account_health"');
    const [accountRows] = await database.db.select({ total: count() }).from(accounts);
    expect((all.body.data as unknown as ListData).accounts.totalCount).toBe(accountRows?.total);
  });
});

describe('totalCount beside the page', () => {
  let seller: User;
  let sellerToken: string;

  beforeAll(async () => {
    seller = await createUser(database.db, { role: 'ae', name: 'Tess Mbeki' });
    sellerToken = await createToken(database.db, 'ae', seller);
    // Accounts spread over segments, stages, owners, renewals and health statuses, so every filter below matches
    // some and not all, and counts apart from the page size.
    const statuses: (HealthStatus | null)[] = ['at_risk', 'critical', 'healthy', null];
    for (let index = 0; index < 12; index += 1) {
      const account = await createAccount(database.db, {
        name: `Tally ${String(index).padStart(2, '0')}`,
        segment: index % 3 === 0 ? 'enterprise' : 'smb',
        stageKey: index % 2 === 0 ? 'implementation' : 'onboarding',
        contractEnd: inDays(index * 9),
        csmId: index % 4 === 0 ? csm.id : null,
        aeId: index % 3 !== 1 ? seller.id : null,
      });
      const status = statuses[index % statuses.length];
      if (status) await withHealth(account, 20 + index * 5, status, null);
    }
  });

  /** The accounts a filter matches for a reader, counted from the rows themselves rather than by the listing's SQL. */
  async function realCount(filter: Record<string, unknown>, reader: User | null): Promise<number> {
    const rows = await database.db.select({ account: accounts, status: accountHealth.status }).from(accounts).leftJoin(accountHealth, eq(accountHealth.accountId, accounts.id));
    const today = new Date().toISOString().slice(0, 10);
    return rows.filter(({ account, status }) => {
      if (reader && account.aeId !== reader.id) return false;
      if (filter.healthStatus && status !== filter.healthStatus) return false;
      if (filter.ownerId && account.csmId !== filter.ownerId && account.aeId !== filter.ownerId) return false;
      if (filter.segment && account.segment !== filter.segment) return false;
      if (filter.stage && account.stageKey !== filter.stage) return false;
      if (typeof filter.renewalWithinDays === 'number') {
        if (!account.contractEnd || account.contractEnd < today || account.contractEnd > inDays(filter.renewalWithinDays)) return false;
      }
      if (typeof filter.search === 'string' && !account.name.toLowerCase().includes(filter.search.toLowerCase())) return false;
      return true;
    }).length;
  }

  const filters = (): [string, Record<string, unknown>][] => [
    ['no filter', {}],
    ['health status', { healthStatus: 'at_risk' }],
    ['health status and segment', { healthStatus: 'critical', segment: 'enterprise' }],
    ['owner', { ownerId: csm.id }],
    ['segment', { segment: 'enterprise' }],
    ['stage', { stage: 'implementation' }],
    ['renewal window', { renewalWithinDays: 45 }],
    ['name search', { search: 'TALLY 0' }],
  ];
  const pageStatements = () => counter.statements.filter((statement) => !statement.includes('"api_tokens"'));

  it('equals the real count for each filter and reader, with the page, with pageInfo only and alone; with the page in one statement', async () => {
    for (const [label, filter] of filters()) {
      for (const [reader, readerToken] of [[null, token], [seller, sellerToken]] as const) {
        const expected = await realCount(filter, reader);
        expect(expected, label).toBeGreaterThan(0);
        for (const orderBy of ['name', 'health', 'renewal_date']) {
          const what = `${label}, ${reader ? 'an AE' : 'a viewer'}, by ${orderBy}`;
          for (const selection of ['totalCount edges { node { id name } }', 'totalCount pageInfo { hasNextPage }', 'totalCount']) {
            counter.reset();
            const response = await api.request(
              `query ($filter: AccountFilter, $orderBy: AccountOrder) { accounts(first: 2, filter: $filter, orderBy: $orderBy) { ${selection} } }`,
              { filter, orderBy },
              readerToken,
            );
            expect(response.body.errors, what).toBeUndefined();
            expect((response.body.data as { accounts: { totalCount: number } }).accounts.totalCount, `${what}: ${selection}`).toBe(expected);
            // Asked with the page, the count is read by the page's own statement.
            if (selection !== 'totalCount') {
              expect(pageStatements(), `${what}: ${selection}\n${pageStatements().join('\n')}`).toHaveLength(1);
              expect(pageStatements()[0], what).toContain('count(');
            }
          }
        }
      }
    }
  });

  it('counts an empty page past the end', async () => {
    for (const [label, filter] of filters()) {
      for (const orderBy of ['name', 'health']) {
        const what = `${label}, by ${orderBy}`;
        let after: string | null = null;
        for (;;) {
          const response = await api.request(
            'query ($filter: AccountFilter, $orderBy: AccountOrder, $after: String) { accounts(first: 100, filter: $filter, orderBy: $orderBy, after: $after) { pageInfo { hasNextPage endCursor } } }',
            { filter, orderBy, after },
            token,
          );
          const { pageInfo } = (response.body.data as { accounts: { pageInfo: { hasNextPage: boolean; endCursor: string | null } } }).accounts;
          after = pageInfo.endCursor;
          if (!pageInfo.hasNextPage) break;
        }
        const past = await api.request(
          'query ($filter: AccountFilter, $orderBy: AccountOrder, $after: String) { accounts(first: 5, filter: $filter, orderBy: $orderBy, after: $after) { totalCount edges { node { id } } } }',
          { filter, orderBy, after },
          token,
        );
        expect(past.body.errors, what).toBeUndefined();
        const connection = (past.body.data as { accounts: { totalCount: number; edges: unknown[] } }).accounts;
        expect(connection.edges, what).toEqual([]);
        expect(connection.totalCount, what).toBe(await realCount(filter, null));
      }
    }
  });
});
