import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AccountFilter, type AccountOrder, accountCursor, accountListingQuery, accountOrders, explainAccountListing, listAccounts } from '../domain/accounts/listing.ts';
import { systemReader } from '../domain/actors.ts';
import { queryValues } from '../db/client.ts';
import { useTestDatabase } from './support/database.ts';

// A book large enough for the planner to prefer reading an index in order over sorting: a few thousand accounts,
// some without a contract end (the others with a renewal), some without a health row yet, some with health but no score (insufficient_data).
const ACCOUNTS = 4000;
const database = useTestDatabase();
let ownerId: string;
let stageKey: string;

beforeAll(async () => {
  const { db } = database;
  await db.execute(sql`
    insert into users (name, email, role)
    select 'CSM ' || g, 'plans-csm' || g || '@example.com', 'csm'::user_role from generate_series(1, 4) g
    union all
    select 'AE ' || g, 'plans-ae' || g || '@example.com', 'ae'::user_role from generate_series(1, 2) g`);
  await db.execute(sql`
    with csms as (select array_agg(id order by email) ids from users where email like 'plans-csm%'),
         aes as (select array_agg(id order by email) ids from users where email like 'plans-ae%'),
         stages as (select array_agg(key order by position) keys, count(*)::int n from lifecycle_stages)
    insert into accounts (external_id, name, segment, arr_cents, csm_id, ae_id, stage_key, stage_entered_at, contract_end)
    select 'plans-' || g, 'Account ' || md5(g::text), (array['smb', 'mid_market', 'enterprise'])[1 + g % 3]::segment, 100000 * (1 + g % 97),
      case when g % 10 = 0 then null else csms.ids[1 + g % 4] end, aes.ids[1 + g % 2], stages.keys[1 + g % stages.n],
      now() - make_interval(days => g % 300, secs => (g * 7919) % 86400),
      case when g % 25 = 0 then null else current_date - 200 + (g * 13) % 800 end
    from generate_series(1, ${ACCOUNTS}) g, csms, aes, stages`);
  // ~3% have no health row yet; ~2% have one without a score; a week-old score for most of the rest.
  await db.execute(sql`
    with base as (select id, abs(hashtext(id::text)) k from accounts where abs(hashtext(id::text || '/h')) % 100 >= 3),
    graded as (select *, case when k % 100 < 2 then 'insufficient_data' when k % 100 < 12 then 'critical' when k % 100 < 42 then 'at_risk' else 'healthy' end status from base)
    insert into account_health (account_id, score, status, score_week_ago, reasons, computed_at, model_version)
    select id, case when status = 'insufficient_data' then null else k % 101 end, status::health_status,
      case when status <> 'insufficient_data' and k % 7 <> 0 then (k / 7) % 101 end, '[]'::jsonb, now(), 1
    from graded`);
  await db.execute(sql`
    insert into renewals (account_id, contract_end, window_opens_on)
    select id, contract_end, contract_end - 90 from accounts where contract_end is not null`);
  await db.execute(sql`analyze`);
  const [[owner] = []] = await queryValues(db, "select id from users where email = 'plans-csm1@example.com'", []);
  const [[stage] = []] = await queryValues(db, 'select key from lifecycle_stages order by position limit 1', []);
  if (typeof owner !== 'string' || typeof stage !== 'string') throw new Error('the book was not seeded');
  ownerId = owner;
  stageKey = stage;
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Parent Relationship'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

async function planOf(order: AccountOrder, filter: AccountFilter, after?: string | null, count = false): Promise<PlanNode[]> {
  const explained = (await explainAccountListing(database.db, { reader: systemReader, first: 50, orderBy: order, filter, after: after ?? null, count })) as { Plan: PlanNode }[];
  const root = explained[0]?.Plan;
  if (!root) throw new Error('EXPLAIN returned no plan');
  return nodes(root);
}

/**
 * The plan of the same statement prepared and run as a generic plan, the one PostgreSQL settles on for a prepared
 * statement after a few executions: planned without the values of its parameters.
 */
async function genericPlanOf(order: AccountOrder, filter: AccountFilter, count = false): Promise<PlanNode[]> {
  const query = accountListingQuery(database.db, { reader: systemReader, first: 50, orderBy: order, filter, count });
  const literals = query.params.map((value) => (typeof value === 'number' ? String(value) : `'${String(value).replaceAll("'", "''")}'`));
  const explained = await database.db.transaction(async (tx) => {
    await tx.execute(sql`set local plan_cache_mode = force_generic_plan`);
    await tx.execute(sql.raw(`prepare listing_plan as ${query.sql}`));
    const result = await tx.execute(sql.raw(`explain (format json) execute listing_plan${literals.length > 0 ? `(${literals.join(', ')})` : ''}`));
    await tx.execute(sql`deallocate listing_plan`);
    const rows: unknown[] = Array.isArray(result) ? result : (result as { rows: unknown[] }).rows;
    const [plan] = Object.values(rows[0] as Record<string, unknown>);
    return (typeof plan === 'string' ? JSON.parse(plan) : plan) as { Plan: PlanNode }[];
  });
  const root = explained[0]?.Plan;
  if (!root) throw new Error('EXPLAIN returned no plan');
  return nodes(root);
}

/** The index that serves each order: its key is exactly the order's key. */
const orderIndexes: Record<AccountOrder, RegExp> = {
  name: /^accounts_name_id_idx$/,
  health: /^account_health_(status_)?health_order_idx$/,
  health_drop: /^account_health_(status_)?drop_order_idx$/,
  renewal_date: /^accounts_renewal_order_idx$/,
  arr: /^accounts_arr_order_idx$/,
  time_in_stage: /^accounts_stage_time_order_idx$/,
};

const filters: [string, () => AccountFilter][] = [
  ['no filter', () => ({})],
  ['a health status', () => ({ healthStatus: 'at_risk' })],
  ['an owner', () => ({ ownerId })],
  ['a segment', () => ({ segment: 'mid_market' })],
  ['a stage', () => ({ stage: stageKey })],
  ['a renewal window', () => ({ renewalWithinDays: 90 })],
];

describe('a page of the account listing is read from the index of its order, not sorted, as planned for its values and as a generic plan', () => {
  for (const order of accountOrders) {
    for (const [label, filter] of filters) {
      it(`ordered by ${order}, with ${label}`, async () => {
        const plan = await planOf(order, filter());
        const types = plan.map((node) => node['Node Type']);
        expect(types[0]).toBe('Limit');
        // No sort of the matching accounts, and no parallel plan (which would not keep the parts in order).
        expect(types.filter((type) => /Sort|Gather/.test(type))).toEqual([]);
        expect(plan.some((node) => /Index/.test(node['Node Type']) && orderIndexes[order].test(node['Index Name'] ?? ''))).toBe(true);
        const generic = await genericPlanOf(order, filter());
        expect(generic.map((node) => node['Node Type']).filter((type) => /Sort|Gather/.test(type))).toEqual([]);
        expect(generic.some((node) => /Index/.test(node['Node Type']) && orderIndexes[order].test(node['Index Name'] ?? ''))).toBe(true);
      });
    }
    it(`ordered by ${order}, on the page after a cursor`, async () => {
      const first = await listAccounts(database.db, { reader: systemReader, first: 50, orderBy: order });
      const last = first.rows.at(-1);
      if (!last) throw new Error('the first page is empty');
      const types = (await planOf(order, {}, accountCursor(order, last))).map((node) => node['Node Type']);
      expect(types.filter((type) => /Sort|Gather/.test(type))).toEqual([]);
    });
  }
});

/** The nodes of a plan outside its InitPlans: the page's own, without the count read beside it. */
function pageNodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).filter((child) => child['Parent Relationship'] !== 'InitPlan').flatMap(pageNodes)];
}

describe('a page with its count is read as without it, the count beside it once', () => {
  for (const order of accountOrders) {
    for (const [label, filter] of filters) {
      it(`ordered by ${order}, with ${label}`, async () => {
        for (const plan of [await planOf(order, filter(), null, true), await genericPlanOf(order, filter(), true)]) {
          const [root] = plan;
          if (!root) throw new Error('an empty plan');
          const page = pageNodes(root);
          expect(page.map((node) => node['Node Type']).filter((type) => /Sort|Gather/.test(type))).toEqual([]);
          expect(page.some((node) => /Index/.test(node['Node Type']) && orderIndexes[order].test(node['Index Name'] ?? ''))).toBe(true);
          expect(plan.filter((node) => node['Parent Relationship'] === 'InitPlan').length).toBeGreaterThan(0);
        }
      });
    }
  }
});

describe('a page among the accounts without a score', () => {
  for (const order of ['health', 'health_drop'] as const) {
    it(`ordered by ${order}, is read in the accounts key after the cursor, not sorted`, async () => {
      const [unscored] = (await listAccounts(database.db, { reader: systemReader, first: 1, orderBy: order, filter: { healthStatus: 'insufficient_data' } })).rows;
      if (!unscored) throw new Error('no account without a score');
      expect(unscored.sortKey).toBe(1000);
      const plan = await planOf(order, {}, accountCursor(order, unscored));
      expect(plan.map((node) => node['Node Type']).filter((type) => /Sort|Gather/.test(type))).toEqual([]);
      expect(plan.some((node) => node['Index Name'] === 'accounts_pkey' && /Index/.test(node['Node Type']))).toBe(true);
    });
  }
});

describe('paging through the health orders', () => {
  // The order as it has always been defined, over accounts and their health, sorted.
  const keys: Partial<Record<AccountOrder, string>> = {
    health: 'coalesce(h.score, 1000)::float8',
    health_drop: '(-coalesce(h.score_week_ago - h.score, -1000))::float8',
  };

  for (const [order, key] of Object.entries(keys) as [AccountOrder, string][]) {
    for (const [label, filter, where] of [
      ['every account', {}, 'true'],
      ['one segment', { segment: 'smb' }, "a.segment = 'smb'"],
      ['one health status', { healthStatus: 'insufficient_data' }, "h.status = 'insufficient_data'"],
    ] as [string, AccountFilter, string][]) {
      it(`${order}, ${label}: every account once, scored first, then those without a score or health by id`, async () => {
        const expected = (
          await queryValues(database.db, `select a.id from accounts a left join account_health h on h.account_id = a.id where ${where} order by ${key}, a.id`, [])
        ).map(([id]) => String(id));
        const listed: string[] = [];
        let after: string | null = null;
        for (;;) {
          const page = await listAccounts(database.db, { reader: systemReader, first: 100, orderBy: order, filter, after, select: { account: [], stage: false, csm: false, ae: false, renewal: false, health: false } });
          listed.push(...page.rows.map((row) => row.account.id));
          const last = page.rows.at(-1);
          if (!page.hasNextPage || !last) break;
          after = accountCursor(order, last);
        }
        expect(expected.length).toBeGreaterThan(0);
        expect(listed).toEqual(expected);
      });
    }
  }

  it('the book has accounts without health and without a score, so the pages cross from one to the other', async () => {
    const [[missing, unscored] = []] = await queryValues(
      database.db,
      `select count(*) filter (where h.account_id is null)::int, count(*) filter (where h.score is null and h.account_id is not null)::int
        from accounts a left join account_health h on h.account_id = a.id`,
      [],
    );
    expect(missing).toBeGreaterThan(50);
    expect(unscored).toBeGreaterThan(20);
  });
});
