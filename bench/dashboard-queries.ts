// The pages of the dashboard benchmark, as each server is asked for them: the same 50 accounts in the same order with
// the same fields (id, name, segment, ARR, stage entry, stage, owners, health, latest renewal), for the orders and
// filters users open most. Each page is checked to be the same on all three servers before it is measured.
import type { HealthStatus } from '../db/schema.ts';
import type { AccountOrder } from '../domain/accounts/listing.ts';

export interface DashboardVariant {
  /** Short name, printed and sent to the SQL server to pick its statement. */
  key: string;
  label: string;
  order: AccountOrder;
  /** The health status the page is filtered to, if any. */
  healthStatus: HealthStatus | null;
  totalCount: boolean;
  lifelineQuery: string;
  /** PostGraphile 4's query and the connection it answers, or why PostGraphile 4 cannot ask for this page. */
  postgraphile: { query: string; connection: 'allAccounts' | 'allAccountHealths' } | { unsupported: string };
  /** The hand-written baseline: the same page in one statement, serialised by the server to the same JSON shape. */
  sql: string;
}

const ACCOUNT_FIELDS = 'id name segment arrCents stageEnteredAt stage { key name } csm { name } ae { name }';
const RENEWAL_FIELDS = 'renewal { contractEnd status }';

function lifelineQuery(order: AccountOrder, options: { atRisk?: boolean; totalCount?: boolean; components?: boolean } = {}): string {
  const filter = options.atRisk ? ', filter: { healthStatus: at_risk }' : '';
  const health = `health { score status reasons${options.components ? ' components { name score weight detail }' : ''} }`;
  return `{ accounts(first: 50, orderBy: ${order}${filter}) { ${options.totalCount ? 'totalCount ' : ''}edges { node { ${ACCOUNT_FIELDS} ${health} ${RENEWAL_FIELDS} } } } }`;
}

const PG_ACCOUNT_FIELDS = `id name segment arrCents stageEnteredAt
  lifecycleStageByStageKey { key name } userByCsmId { name } userByAeId { name }
  renewalsByAccountId(first: 1, orderBy: CONTRACT_END_DESC) { nodes { contractEnd status } }`;

/** PostGraphile 4 orders a table by its own columns: a page of accounts ordered by an account column. */
function postgraphileAccounts(orderBy: string): { query: string; connection: 'allAccounts' } {
  return {
    query: `{ allAccounts(first: 50, orderBy: [${orderBy}, ID_ASC]) { nodes { ${PG_ACCOUNT_FIELDS}
      accountHealthByAccountId { score status baselineReasons } } } }`,
    connection: 'allAccounts',
  };
}

/**
 * The at-risk page ordered by health: PostGraphile 4 cannot order accounts by a column of account_health, so it is
 * asked from the health side, which is the same page (every at-risk account has a score; ties go to the account id).
 */
function postgraphileAtRisk(options: { totalCount?: boolean; components?: boolean }): { query: string; connection: 'allAccountHealths' } {
  return {
    query: `{ allAccountHealths(first: 50, condition: { status: AT_RISK }, orderBy: [SCORE_ASC, ACCOUNT_ID_ASC]) { ${options.totalCount ? 'totalCount ' : ''}nodes {
      score status baselineReasons${options.components ? ' baselineComponents' : ''} accountByAccountId { ${PG_ACCOUNT_FIELDS} } } } }`,
    connection: 'allAccountHealths',
  };
}

/**
 * The page as a competent hand-writer would write it: the 50 ids first (the smallest tables the order and filter
 * need, an index where the database has one), then what the dashboard shows beside each, for those 50 only.
 */
function pageSql(options: { page: string; key: string; descending?: boolean; totalCount?: boolean; components?: boolean }): string {
  const health = `json_build_object('score', h.score, 'status', h.status, 'reasons', h.baseline_reasons${options.components ? ", 'components', h.baseline_components" : ''})`;
  const direction = options.descending ? 'desc' : 'asc';
  return `
  select a.id, a.name, a.segment, a.arr_cents as "arrCents", a.stage_entered_at as "stageEnteredAt",
    json_build_object('key', s.key, 'name', s.name) as stage,
    case when c.id is null then null else json_build_object('name', c.name) end as csm,
    case when e.id is null then null else json_build_object('name', e.name) end as ae,
    case when h.account_id is null then null else ${health} end as health,
    case when r.contract_end is null then null else json_build_object('contractEnd', r.contract_end, 'status', r.status) end as renewal
    ${options.totalCount ? `, (select count(*) from account_health where status = 'at_risk')::int as "totalCount"` : ''}
  from (select ${options.key} as sort_key, id from ${options.page} order by 1 ${direction}, 2 limit 50) p
  join accounts a on a.id = p.id
  join lifecycle_stages s on s.key = a.stage_key
  left join account_health h on h.account_id = a.id
  left join users c on c.id = a.csm_id
  left join users e on e.id = a.ae_id
  left join lateral (select contract_end, status from renewals where account_id = a.id order by contract_end desc limit 1) r on true
  order by p.sort_key ${direction}, p.id`;
}

function atRisk(key: string, label: string, options: { totalCount?: boolean; components?: boolean }): DashboardVariant {
  return {
    key,
    label,
    order: 'health',
    healthStatus: 'at_risk',
    totalCount: options.totalCount ?? false,
    lifelineQuery: lifelineQuery('health', { atRisk: true, ...options }),
    postgraphile: postgraphileAtRisk(options),
    sql: pageSql({ page: "(select account_id as id, score from account_health where status = 'at_risk') at_risk", key: 'score', ...options }),
  };
}

export const dashboardVariants: DashboardVariant[] = [
  atRisk('at-risk', '50 at-risk accounts ordered by health (the page a manager opens)', {}),
  atRisk('at-risk-total', 'the same page with totalCount', { totalCount: true }),
  atRisk('at-risk-components', 'the same page with realistic components in the table', { components: true }),
  {
    key: 'health_drop',
    label: 'ordered by health_drop (biggest fall over the week first)',
    order: 'health_drop',
    healthStatus: null,
    totalCount: false,
    lifelineQuery: lifelineQuery('health_drop'),
    postgraphile: {
      unsupported: 'PostGraphile 4 orders by columns only; the drop (score_week_ago − score) of a related table is neither (it would need a computed column and a plugin)',
    },
    // Every bench account has a health row, so the drop is read from account_health alone, in its index's order.
    sql: pageSql({ page: '(select account_id as id, score_week_ago, score from account_health) d', key: 'coalesce(d.score_week_ago - d.score, -1000)', descending: true }),
  },
  {
    key: 'renewal_date',
    label: 'ordered by renewal_date (soonest contract end first)',
    order: 'renewal_date',
    healthStatus: null,
    totalCount: false,
    lifelineQuery: lifelineQuery('renewal_date'),
    postgraphile: postgraphileAccounts('CONTRACT_END_ASC'),
    sql: pageSql({ page: 'accounts', key: 'contract_end' }),
  },
  {
    key: 'arr',
    label: 'ordered by arr (largest first)',
    order: 'arr',
    healthStatus: null,
    totalCount: false,
    lifelineQuery: lifelineQuery('arr'),
    postgraphile: postgraphileAccounts('ARR_CENTS_DESC'),
    sql: pageSql({ page: 'accounts', key: 'arr_cents', descending: true }),
  },
  {
    key: 'time_in_stage',
    label: 'ordered by time_in_stage (longest in its stage first)',
    order: 'time_in_stage',
    healthStatus: null,
    totalCount: false,
    lifelineQuery: lifelineQuery('time_in_stage'),
    postgraphile: postgraphileAccounts('STAGE_ENTERED_AT_ASC'),
    sql: pageSql({ page: 'accounts', key: 'stage_entered_at' }),
  },
  {
    key: 'name',
    label: 'ordered by name',
    order: 'name',
    healthStatus: null,
    totalCount: false,
    lifelineQuery: lifelineQuery('name'),
    postgraphile: postgraphileAccounts('NAME_ASC'),
    sql: pageSql({ page: 'accounts', key: 'name' }),
  },
];

export function dashboardVariant(key: string): DashboardVariant {
  const variant = dashboardVariants.find((candidate) => candidate.key === key);
  if (!variant) throw new Error(`No dashboard page ${key}; one of ${dashboardVariants.map((candidate) => candidate.key).join(', ')}`);
  return variant;
}
