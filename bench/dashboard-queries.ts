// The dashboard page of the benchmark, as each server is asked for it: the same 50 accounts (ordered by name,
// then id) with the same fields: id, name, segment, ARR, stage entry, stage, owners, health, latest renewal.

export const LIFELINE_QUERY = `{ accounts(first: 50) { edges { node { id name segment arrCents stageEnteredAt stage { key name } csm { name } ae { name } health { score status reasons } renewal { contractEnd status } } } } }`;

export const POSTGRAPHILE_QUERY = `{ allAccounts(first: 50, orderBy: [NAME_ASC, ID_ASC]) { nodes { id name segment arrCents stageEnteredAt
  lifecycleStageByStageKey { key name } userByCsmId { name } userByAeId { name }
  accountHealthByAccountId { score status reasons }
  renewalsByAccountId(first: 1, orderBy: CONTRACT_END_DESC) { nodes { contractEnd status } } } } }`;

/** The hand-written baseline: the same page in one statement, serialised to the same JSON shape. */
export const DASHBOARD_SQL = `
  select a.id, a.name, a.segment, a.arr_cents as "arrCents", a.stage_entered_at as "stageEnteredAt",
    json_build_object('key', s.key, 'name', s.name) as stage,
    case when c.id is null then null else json_build_object('name', c.name) end as csm,
    case when e.id is null then null else json_build_object('name', e.name) end as ae,
    case when h.account_id is null then null else json_build_object('score', h.score, 'status', h.status, 'reasons', h.reasons) end as health,
    case when r.contract_end is null then null else json_build_object('contractEnd', r.contract_end, 'status', r.status) end as renewal
  from accounts a
  join lifecycle_stages s on s.key = a.stage_key
  left join users c on c.id = a.csm_id
  left join users e on e.id = a.ae_id
  left join account_health h on h.account_id = a.id
  left join lateral (select contract_end, status from renewals where account_id = a.id order by contract_end desc limit 1) r on true
  order by a.name, a.id
  limit 50`;
