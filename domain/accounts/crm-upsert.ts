// Accounts from outside: the one way an account the CRM sent is written (upsertCrmAccounts, for the bulk import and
// closed-won deals alike), and the bulk import, which checks a load against the stages and people Lifeline has.
import { inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Tx, queryRows } from '../../db/client.ts';
import { type Segment, type TransitionSource, lifecycleStages, segments, users } from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { requireAccess } from '../access.ts';
import { InvalidInputError } from '../errors.ts';
import { PRE_ONBOARDING_STAGE } from '../lifecycle/stages.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS, MAX_RENEWAL_WINDOW_DAYS, openDueRenewals } from '../renewals/window.ts';
import { parseInput } from '../validation.ts';

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

export const upsertAccountSchema = z.object({
  externalId: z.string().trim().min(1, 'the CRM account id is required').max(200),
  name: z.string().trim().min(1, 'the account name is required').max(200),
  domain: z.string().trim().max(253).nullish(),
  segment: z.enum(segments, `use one of ${segments.join(', ')}`),
  arrCents: z.number().int('ARR is whole cents').min(0, 'ARR cannot be negative').max(Number.MAX_SAFE_INTEGER),
  csmId: z.uuid('must be a Lifeline user id').nullish(),
  aeId: z.uuid('must be a Lifeline user id').nullish(),
  contractStart: z.iso.date('use a calendar date written YYYY-MM-DD').nullish(),
  contractEnd: z.iso.date('use a calendar date written YYYY-MM-DD').nullish(),
  /** Only for accounts seen for the first time; an existing account moves stage only through moveAccountStage. */
  stageKey: z.string().trim().min(1).nullish(),
});

export type UpsertAccountInput = z.input<typeof upsertAccountSchema>;
export const MAX_UPSERT_ACCOUNTS = 10_000;

export interface UpsertAccountsParams {
  accounts: UpsertAccountInput[];
  actor: Actor;
  /** Days before contract end that the renewal window opens (the configured window); DEFAULT_RENEWAL_WINDOW_DAYS otherwise. */
  renewalWindowDays?: number;
  now?: Date;
}

export interface UpsertAccountsResult {
  created: number;
  updated: number;
  /** Lifeline id of each CRM id, in input order (a CRM id sent twice appears once, with its last values). */
  accounts: { externalId: string; id: string; created: boolean }[];
}

/**
 * Bulk create-or-update by CRM id, set-based: one statement upserts every account, records the initial stage of
 * the new ones and their renewals. Existing accounts keep their stage (moves are events, not overwrites) and keep
 * owners and dates the CRM did not send.
 */
export async function upsertAccounts(db: Db, params: UpsertAccountsParams): Promise<UpsertAccountsResult> {
  requireAccess(params.actor, 'ingest');
  if (params.accounts.length > MAX_UPSERT_ACCOUNTS) {
    throw new InvalidInputError(`Send at most ${MAX_UPSERT_ACCOUNTS} accounts per call; split the load into several calls.`, 'accounts');
  }
  const parsed = params.accounts.map((row, index) => parseInput(upsertAccountSchema, row, `accounts[${index}]`));
  const latest = new Map(parsed.map((row, index) => [row.externalId, { row, index }]));
  const rows = [...latest.values()];
  if (rows.length === 0) return { created: 0, updated: 0, accounts: [] };
  const windowDays = params.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS;
  if (!Number.isInteger(windowDays) || windowDays < 0 || windowDays > MAX_RENEWAL_WINDOW_DAYS) {
    throw new Error(`The renewal window must be a whole number of days from 0 to ${MAX_RENEWAL_WINDOW_DAYS}, not ${windowDays}`);
  }

  return db.transaction(async (tx) => {
    const stageKeys = new Set((await tx.select({ key: lifecycleStages.key }).from(lifecycleStages)).map((stage) => stage.key));
    const userIds = [...new Set(rows.flatMap(({ row }) => [row.csmId, row.aeId].filter((id): id is string => Boolean(id))))];
    const knownUsers = new Set(
      userIds.length > 0 ? (await tx.select({ id: users.id }).from(users).where(inArray(users.id, userIds))).map((user) => user.id) : [],
    );
    for (const { row, index } of rows) {
      if (row.stageKey && !stageKeys.has(row.stageKey)) {
        throw new InvalidInputError(
          `accounts[${index}].stageKey: there is no stage "${row.stageKey}". Use one of: ${[...stageKeys].join(', ')}.`,
          `accounts[${index}].stageKey`,
        );
      }
      for (const field of ['csmId', 'aeId'] as const) {
        const id = row[field];
        if (id && !knownUsers.has(id)) {
          throw new InvalidInputError(`accounts[${index}].${field}: there is no Lifeline user with id ${id}. List people with the \`users\` query.`, `accounts[${index}].${field}`);
        }
      }
    }
    const result = await upsertCrmAccounts(tx, {
      accounts: rows.map(({ row }) => ({ ...row, stageKey: row.stageKey ?? PRE_ONBOARDING_STAGE })),
      entry: { actor: params.actor, source: 'import', reason: 'Imported from the CRM' },
    });
    await openDueRenewals(tx, { windowDays, now: params.now, accountIds: result.map((row) => row.id) });
    const byExternalId = new Map(result.map((row) => [row.externalId, row]));
    const summary = rows.map(({ row }) => {
      const written = byExternalId.get(row.externalId);
      if (!written) throw new Error(`Account ${row.externalId} was not written`);
      return { externalId: row.externalId, id: written.id, created: written.inserted };
    });
    const created = summary.filter((row) => row.created).length;
    return { created, updated: summary.length - created, accounts: summary };
  });
}
