import { sql } from 'drizzle-orm';
import { type Tx, queryRows } from '../db/client.ts';
import type { Segment, TransitionSource } from '../db/schema.ts';
import type { Actor } from './actors.ts';

/**
 * How an account from the CRM is written, for every way one arrives (the bulk import, a closed-won deal): the CRM
 * owns the name, segment and ARR; owners, domain and contract dates it did not send are kept. A new account starts
 * its history with an initial transition; an existing one keeps its stage, which only a stage move changes.
 */
export interface CrmAccountRow {
  externalId: string;
  name: string;
  domain?: string | null | undefined;
  segment: Segment;
  arrCents: number;
  csmId?: string | null | undefined;
  aeId?: string | null | undefined;
  contractStart?: string | null | undefined;
  contractEnd?: string | null | undefined;
  /** The stage a new account starts in; ignored for an account Lifeline already has. */
  stageKey: string;
}

export interface UpsertCrmAccountsParams {
  accounts: CrmAccountRow[];
  /** Who brought new accounts in and why, as their initial transition records it. */
  entry: { actor: Actor; source: TransitionSource; reason: string; /** When they entered their stage; now by default. */ at?: Date };
}

export interface UpsertedCrmAccount {
  id: string;
  externalId: string;
  /** True for an account Lifeline did not have. */
  inserted: boolean;
}

/** One statement for any number of accounts, keyed on the CRM id (each at most once in `accounts`). */
export async function upsertCrmAccounts(tx: Tx, params: UpsertCrmAccountsParams): Promise<UpsertedCrmAccount[]> {
  if (params.accounts.length === 0) return [];
  const payload = JSON.stringify(
    params.accounts.map((row) => ({
      x: row.externalId,
      n: row.name,
      dm: row.domain ?? null,
      sg: row.segment,
      arr: row.arrCents,
      csm: row.csmId ?? null,
      ae: row.aeId ?? null,
      cs: row.contractStart ?? null,
      ce: row.contractEnd ?? null,
      st: row.stageKey,
    })),
  );
  const { actor, source, reason, at } = params.entry;
  const rows = await queryRows<{ id: string; external_id: string; inserted: boolean }>(
    tx,
    sql`with input as (
          select * from json_to_recordset(${payload}::json)
            as r(x text, n text, dm text, sg segment, arr bigint, csm uuid, ae uuid, cs date, ce date, st text)
        ),
        upserted as (
          insert into accounts (external_id, name, domain, segment, arr_cents, csm_id, ae_id, contract_start, contract_end, stage_key, stage_entered_at, version)
          select x, n, dm, sg, arr, csm, ae, cs, ce, st, coalesce(${at?.toISOString() ?? null}::timestamptz, now()), 1 from input
          on conflict (external_id) do update set
            name = excluded.name,
            segment = excluded.segment,
            arr_cents = excluded.arr_cents,
            domain = coalesce(excluded.domain, accounts.domain),
            csm_id = coalesce(excluded.csm_id, accounts.csm_id),
            ae_id = coalesce(excluded.ae_id, accounts.ae_id),
            contract_start = coalesce(excluded.contract_start, accounts.contract_start),
            contract_end = coalesce(excluded.contract_end, accounts.contract_end),
            updated_at = now()
          returning id, external_id, stage_key, stage_entered_at, (xmax = 0) as inserted
        ),
        initial as (
          insert into stage_transitions (account_id, from_stage, to_stage, direction, actor_id, actor_label, source, reason, account_version, occurred_at)
          select id, null, stage_key, 'initial', ${actor.userId}::uuid, ${actor.label}, ${source}::transition_source, ${reason}, 1, stage_entered_at
          from upserted where inserted
          returning 1
        )
        select id, external_id, inserted from upserted`,
  );
  return rows.map((row) => ({ id: row.id, externalId: row.external_id, inserted: row.inserted }));
}
