// How a renewal ends: recording its outcome (renewed, downsell, churned) and correcting it. The one place a renewal
// outcome touches the revenue ledger, the account's contract and ARR, and its stage.
//
// A correction amends the ledger row the outcome wrote (one row per renewal, `renewal:<id>`) instead of adding a
// reversing entry: a reversal of a churn would have to be recorded as a reactivation and a reversal of an expansion as
// a contraction, so metrics would count churn, reactivation, expansion and contraction that never happened. An amended
// row keeps NRR and GRR, and every breakdown by kind and reason, equal to what the corrected outcome alone would give;
// the outcome history (renewal_outcomes, superseded rows kept) records what was recorded before and by whom.
import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import {
  type Account,
  type Renewal,
  type RenewalOutcome,
  type TransitionSource,
  accounts,
  renewalOutcomeKinds,
  renewalOutcomes,
  renewals,
  stageTransitions,
} from '../../db/schema.ts';
import { readableOwnerId } from '../access.ts';
import type { Actor } from '../actors.ts';
import { requireChurnReason } from '../churn-reasons.ts';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { moveAccountStageInTx } from '../lifecycle/moves.ts';
import { CHURNED_STAGE } from '../lifecycle/stages.ts';
import { mrrOnDate, removeRevenueChangeInTx, writeRevenueChangeInTx } from '../revenue.ts';
import { isUuid, parseInput } from '../validation.ts';
import { requireCorrectionRights, requireRenewalRights } from './rights.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS, openDueRenewals } from './window.ts';

const outcomeSchema = z
  .object({
    renewalId: z.string().trim().min(1, 'name the renewal'),
    outcome: z.enum(renewalOutcomeKinds, `use one of ${renewalOutcomeKinds.join(', ')}`),
    newContractEnd: z.iso.date('use a calendar date written YYYY-MM-DD').nullish(),
    newArrCents: z.number().int('ARR is whole cents').min(1, 'a renewal keeps some ARR; a customer who leaves is a churned outcome').max(1e13).nullish(),
    churnReasonKey: z.string().trim().min(1).max(40).nullish(),
    note: z.string().trim().max(2000, 'keep the note under 2000 characters').nullish(),
  })
  .superRefine((input, ctx) => {
    if (input.outcome === 'churned') {
      if (!input.churnReasonKey) ctx.addIssue({ code: 'custom', path: ['churnReasonKey'], message: 'a churned renewal needs a churn reason (the churnReasons query lists them)' });
      if (input.newContractEnd || input.newArrCents) {
        ctx.addIssue({ code: 'custom', path: ['newContractEnd'], message: 'a churned renewal has no new contract end or ARR; leave newContractEnd and newArrCents out' });
      }
      return;
    }
    if (!input.newContractEnd) ctx.addIssue({ code: 'custom', path: ['newContractEnd'], message: `a ${input.outcome} renewal needs the new contract end` });
    if (!input.newArrCents) ctx.addIssue({ code: 'custom', path: ['newArrCents'], message: `a ${input.outcome} renewal needs the new ARR (whole cents)` });
    if (input.outcome === 'renewed' && input.churnReasonKey) {
      ctx.addIssue({ code: 'custom', path: ['churnReasonKey'], message: 'a renewal without a downsell loses nothing, so it takes no churn reason; leave churnReasonKey out' });
    }
  });

export type RenewalOutcomeInput = z.input<typeof outcomeSchema>;

export interface RecordRenewalOutcomeParams extends RenewalOutcomeInput {
  actor: Actor;
  /** Where the outcome was recorded, for the stage history of a churn. */
  source?: TransitionSource;
  /** The renewal window the next contract end's renewal opens with (config.jobs.renewalWindowDays). */
  windowDays?: number;
  now?: Date;
}

export interface RenewalOutcomeResult {
  renewal: Renewal;
  outcome: RenewalOutcome;
  /** True when this exact outcome was already recorded (a double click, a retry): nothing was written. */
  replayed: boolean;
}

type Parsed = z.output<typeof outcomeSchema>;

function sameOutcome(current: RenewalOutcome, input: Parsed): boolean {
  return (
    current.outcome === input.outcome &&
    (current.newContractEnd ?? null) === (input.newContractEnd ?? null) &&
    (input.outcome === 'churned' || current.newArrCents === input.newArrCents) &&
    (current.churnReasonKey ?? null) === (input.churnReasonKey ?? null) &&
    (current.note ?? null) === (input.note ?? null)
  );
}

async function lockRenewal(tx: Tx, renewalId: string): Promise<{ renewal: Renewal; account: Account }> {
  const [renewal] = isUuid(renewalId) ? await tx.select().from(renewals).where(eq(renewals.id, renewalId)).for('update') : [];
  if (!renewal) throw new NotFoundError(`No renewal with id ${renewalId}. List renewals with the \`renewals\` query.`, 'renewalId');
  const [account] = await tx.select().from(accounts).where(eq(accounts.id, renewal.accountId)).for('update');
  if (!account) throw new Error(`Account ${renewal.accountId} of renewal ${renewal.id} is missing`);
  return { renewal, account };
}

async function currentOutcome(tx: Tx, renewalId: string): Promise<RenewalOutcome | undefined> {
  const [row] = await tx.select().from(renewalOutcomes).where(and(eq(renewalOutcomes.renewalId, renewalId), isNull(renewalOutcomes.supersededAt)));
  return row;
}

function describeOutcome(outcome: RenewalOutcome): string {
  return `${outcome.outcome} by ${outcome.recordedByLabel} on ${outcome.recordedAt.toISOString().slice(0, 10)}`;
}

/**
 * Records how a renewal ended (the account's CSM or AE, managers, admins). Renewed and downsell set the new contract
 * end and ARR, and the change in ARR (÷ 12, to the cent) writes the matching expansion or contraction to the ledger,
 * effective on the renewal's contract end; churned writes the churn of the account's whole MRR and moves the account
 * to Churned through the one stage-move path, with the churn reason. Idempotent: the same outcome sent again records
 * nothing more; a different one is refused (a manager corrects it with correctRenewalOutcome).
 */
export async function recordRenewalOutcome(db: Db, params: RecordRenewalOutcomeParams): Promise<RenewalOutcomeResult> {
  const input = parseInput(outcomeSchema, params);
  return db.transaction(async (tx) => {
    const { renewal, account } = await lockRenewal(tx, input.renewalId);
    requireRenewalRights(params.actor, account, `record the outcome of ${account.name}'s renewal`);
    const current = await currentOutcome(tx, renewal.id);
    if (current) {
      if (sameOutcome(current, input)) return { renewal, outcome: current, replayed: true };
      throw new InvalidInputError(
        `${account.name}'s renewal of ${renewal.contractEnd} is already recorded as ${describeOutcome(current)}. A manager or an admin can change it with correctRenewalOutcome.`,
        'outcome',
      );
    }
    if (renewal.status === 'renewed' || renewal.status === 'churned') {
      throw new InvalidInputError(
        `${account.name}'s renewal of ${renewal.contractEnd} was already closed as ${renewal.status}${renewal.outcome ? ` (${renewal.outcome})` : ''}, outside this form. Nothing to record.`,
        'renewalId',
      );
    }
    return applyOutcome(tx, { renewal, account, previousContractEnd: renewal.contractEnd, previousArrCents: account.arrCents, corrects: null }, input, params);
  });
}

export type CorrectRenewalOutcomeParams = RecordRenewalOutcomeParams;

/**
 * Replaces a renewal's recorded outcome (managers and admins). The ledger row the outcome wrote is amended to the
 * corrected movement (or removed when there is none), the account's contract, ARR and stage follow the corrected
 * outcome, and the replaced outcome stays in the history. Idempotent like recording.
 */
export async function correctRenewalOutcome(db: Db, params: CorrectRenewalOutcomeParams): Promise<RenewalOutcomeResult> {
  requireCorrectionRights(params.actor);
  const input = parseInput(outcomeSchema, params);
  return db.transaction(async (tx) => {
    const { renewal, account } = await lockRenewal(tx, input.renewalId);
    const current = await currentOutcome(tx, renewal.id);
    if (!current) {
      throw new InvalidInputError(`${account.name}'s renewal of ${renewal.contractEnd} has no outcome yet. Record one with recordRenewalOutcome.`, 'renewalId');
    }
    if (sameOutcome(current, input)) return { renewal, outcome: current, replayed: true };
    const now = params.now ?? new Date();
    await tx.update(renewalOutcomes).set({ supersededAt: now }).where(eq(renewalOutcomes.id, current.id));
    // The contract end the replaced outcome opened a renewal for: dropped when nothing was done on it yet.
    if (current.newContractEnd && current.newContractEnd !== input.newContractEnd) {
      await tx.execute(sql`
        delete from renewals r
        where r.account_id = ${account.id} and r.contract_end = ${current.newContractEnd}::date and r.status in ('upcoming', 'open')
          and not exists (select 1 from renewal_calls c where c.renewal_id = r.id)
          and not exists (select 1 from renewal_outcomes o where o.renewal_id = r.id)
          and not exists (select 1 from tasks t where t.renewal_id = r.id)`);
    }
    // A churn corrected to a renewal: the account goes back to the stage it left for Churned.
    if (current.outcome === 'churned' && input.outcome !== 'churned' && account.stageKey === CHURNED_STAGE) {
      const [left] = await tx
        .select({ fromStage: stageTransitions.fromStage })
        .from(stageTransitions)
        .where(and(eq(stageTransitions.accountId, account.id), eq(stageTransitions.toStage, CHURNED_STAGE)))
        .orderBy(desc(stageTransitions.accountVersion))
        .limit(1);
      if (left?.fromStage) {
        await moveAccountStageInTx(tx, {
          accountId: account.id,
          toStage: left.fromStage,
          expectedVersion: account.version,
          actor: params.actor,
          source: params.source ?? 'api',
          reason: `Renewal outcome corrected from churned to ${input.outcome}${input.note ? `: ${input.note}` : ''}`,
        });
      }
    }
    const [fresh] = await tx.select().from(accounts).where(eq(accounts.id, account.id));
    return applyOutcome(
      tx,
      { renewal, account: fresh ?? account, previousContractEnd: current.previousContractEnd, previousArrCents: current.previousArrCents, corrects: current },
      input,
      params,
    );
  });
}

interface OutcomeBase {
  renewal: Renewal;
  account: Account;
  /** What was up for renewal, before any outcome of it. */
  previousContractEnd: string;
  previousArrCents: number;
  corrects: RenewalOutcome | null;
}

async function applyOutcome(tx: Tx, base: OutcomeBase, input: Parsed, params: RecordRenewalOutcomeParams): Promise<RenewalOutcomeResult> {
  const { renewal, account } = base;
  const now = params.now ?? new Date();
  const externalId = `renewal:${renewal.id}`;
  const newArrCents = input.outcome === 'churned' ? 0 : (input.newArrCents ?? 0);
  if (input.outcome === 'renewed' && newArrCents < base.previousArrCents) {
    throw new InvalidInputError(
      `The new ARR (${newArrCents} cents) is below the ${base.previousArrCents} cents up for renewal: record a downsell (outcome downsell) with a churn reason.`,
      'outcome',
    );
  }
  if (input.outcome === 'downsell' && newArrCents >= base.previousArrCents) {
    throw new InvalidInputError(
      `A downsell lowers ARR, and ${newArrCents} cents is not below the ${base.previousArrCents} cents up for renewal: record it as renewed.`,
      'newArrCents',
    );
  }
  if (input.newContractEnd && input.newContractEnd <= base.previousContractEnd) {
    throw new InvalidInputError(`The new contract end must come after ${base.previousContractEnd}, the contract end being renewed.`, 'newContractEnd');
  }
  if (input.churnReasonKey) await requireChurnReason(tx, input.churnReasonKey, input.outcome === 'churned' ? 'churn' : 'contraction');

  const { mrrCents: mrrBefore } = await mrrOnDate(tx, account.id, renewal.contractEnd, externalId);
  const mrrDeltaCents = input.outcome === 'churned' ? -mrrBefore : Math.round((newArrCents - base.previousArrCents) / 12);
  if (mrrDeltaCents === 0) {
    await removeRevenueChangeInTx(tx, account, externalId);
  } else {
    if (mrrBefore <= 0) {
      throw new InvalidInputError(
        `${account.name} has no MRR in the revenue ledger on ${renewal.contractEnd}, so the renewal's change in ARR has nothing to change. Record its MRR first (recordRevenueChange, kind new), then the outcome.`,
        'outcome',
      );
    }
    await writeRevenueChangeInTx(tx, account, {
      accountId: account.id,
      externalId,
      kind: input.outcome === 'churned' ? 'churn' : mrrDeltaCents > 0 ? 'expansion' : 'contraction',
      mrrDeltaCents,
      effectiveDate: renewal.contractEnd,
      note: input.note ?? null,
      churnReasonKey: input.churnReasonKey ?? null,
    });
  }

  const [closed] = await tx
    .update(renewals)
    .set({ status: input.outcome === 'churned' ? 'churned' : 'renewed', outcome: input.outcome, closedAt: now })
    .where(eq(renewals.id, renewal.id))
    .returning();
  await tx
    .update(accounts)
    .set({ contractEnd: input.newContractEnd ?? base.previousContractEnd, arrCents: newArrCents, updatedAt: now })
    .where(eq(accounts.id, account.id));
  if (input.outcome === 'churned') {
    if (account.stageKey !== CHURNED_STAGE) {
      await moveAccountStageInTx(tx, {
        accountId: account.id,
        toStage: CHURNED_STAGE,
        expectedVersion: account.version,
        actor: params.actor,
        source: params.source ?? 'api',
        reason: input.note ?? null,
        churnReasonKey: input.churnReasonKey ?? null,
      });
    }
  } else {
    await openDueRenewals(tx, { windowDays: params.windowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS, accountIds: [account.id], now });
  }

  const [outcome] = await tx
    .insert(renewalOutcomes)
    .values({
      renewalId: renewal.id,
      outcome: input.outcome,
      previousContractEnd: base.previousContractEnd,
      previousArrCents: base.previousArrCents,
      newContractEnd: input.newContractEnd ?? null,
      newArrCents,
      mrrDeltaCents,
      churnReasonKey: input.churnReasonKey ?? null,
      note: input.note ?? null,
      recordedBy: params.actor.userId,
      recordedByLabel: params.actor.label,
      recordedAt: now,
      correctsId: base.corrects?.id ?? null,
    })
    .returning();
  if (!closed || !outcome) throw new Error(`Renewal ${renewal.id} outcome wrote nothing`);
  return { renewal: closed, outcome, replayed: false };
}

export interface RenewalOutcomesParams {
  renewalIds: readonly string[];
  reader: Actor;
}

/** Every outcome of these renewals, oldest first, corrections included (for loaders); an AE reads only their accounts'. */
export async function listRenewalOutcomes(db: Db, params: RenewalOutcomesParams): Promise<RenewalOutcome[]> {
  const aeId = readableOwnerId(params.reader);
  const ids = params.renewalIds.filter(isUuid);
  if (ids.length === 0) return [];
  const rows = await db
    .select({ outcome: renewalOutcomes })
    .from(renewalOutcomes)
    .innerJoin(renewals, eq(renewals.id, renewalOutcomes.renewalId))
    .innerJoin(accounts, eq(accounts.id, renewals.accountId))
    .where(and(inArray(renewalOutcomes.renewalId, ids), aeId ? eq(accounts.aeId, aeId) : undefined))
    .orderBy(asc(renewalOutcomes.recordedAt), asc(renewalOutcomes.id));
  return rows.map((row) => row.outcome);
}
