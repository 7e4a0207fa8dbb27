/**
 * A deal closed-won in the CRM: a new customer gets an account in Onboarding and a handoff; a deal of an existing
 * customer (a renewal, an expansion...) keeps the account where it is and records what it changed.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import { type Account, type Handoff, type RevenueChange, type Segment, accounts, handoffs, revenueChanges, ruleFirings, segments, users } from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { upsertCrmAccounts } from '../accounts/crm-upsert.ts';
import { ForbiddenError, InvalidInputError } from '../errors.ts';
import { closeLeadWonInTx } from '../leads.ts';
import { moveAccountStageInTx } from '../lifecycle/moves.ts';
import { ONBOARDING_STAGE, PRE_ONBOARDING_STAGE } from '../lifecycle/stages.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS, openDueRenewals, recordContractRenewed } from '../renewals/window.ts';
import { mrrOnDate, writeRevenueChangeInTx } from '../revenue.ts';
import { startClosedWonPlaybooks } from '../plays/trigger-tasks.ts';
import { parseInput } from '../validation.ts';
import { type HandoffContext, createHandoff, handoffContextSchema, notifyHandoff } from './handoffs.ts';

/** The rule_firings rule under which a deal of an existing customer is recorded, once per opportunity. */
const EXISTING_CUSTOMER_DEAL_RULE = 'closed_won';

export interface ClosedWonAccount {
  externalId: string;
  name: string;
  domain?: string | null;
  segment: Segment;
  arrCents: number;
  contractStart?: string | null;
  contractEnd?: string | null;
}

export interface RecordClosedWonParams {
  /** The CRM opportunity id: recording the same opportunity twice changes nothing. */
  opportunityId: string;
  account: ClosedWonAccount;
  aeId?: string | null;
  csmId?: string | null;
  closedWonAt: Date;
  context: HandoffContext;
  goLiveTarget?: string | null;
  actor: Actor;
  /** Days before contract end that the renewal window opens (the configured window); DEFAULT_RENEWAL_WINDOW_DAYS otherwise. */
  renewalWindowDays?: number;
}

/**
 * What a closed-won deal was. A new customer (an account Lifeline did not know, or one still in Pre-onboarding)
 * gets a handoff and enters Onboarding. A deal of an existing customer keeps the account where it is: a renewal
 * extends the contract; otherwise it brings more ARR (expansion) or less (contraction), brings a churned customer
 * back (reactivation), or changes neither (an amendment). The revenue it moves is in the ledger either way.
 */
export const closedWonKinds = ['new_customer', 'renewal', 'expansion', 'contraction', 'reactivation', 'amendment'] as const;
export type ClosedWonKind = (typeof closedWonKinds)[number];

interface ClosedWonBase {
  account: Account;
  /** False when this opportunity was already recorded; nothing was changed. */
  created: boolean;
}

export interface NewCustomerClosedWon extends ClosedWonBase {
  kind: 'new_customer';
  handoff: Handoff;
  revenueChange: null;
}

export interface ExistingCustomerDeal extends ClosedWonBase {
  kind: Exclude<ClosedWonKind, 'new_customer'>;
  handoff: null;
  /** The ledger entry of the MRR the deal moved (externalId `opportunity:<id>`); null when it moved none. */
  revenueChange: RevenueChange | null;
}

export type ClosedWon = NewCustomerClosedWon | ExistingCustomerDeal;

const isoDay = z.iso.date('use a calendar date written YYYY-MM-DD');
const optionalUuid = z.uuid('must be a Lifeline user id').nullish();

const closedWonSchema = z.object({
  opportunityId: z.string().trim().min(1, 'the CRM opportunity id is required').max(200),
  account: z.object({
    externalId: z.string().trim().min(1, 'the CRM account id is required').max(200),
    name: z.string().trim().min(1, 'the account name is required').max(200),
    domain: z.string().trim().max(253).nullish(),
    segment: z.enum(segments, `use one of ${segments.join(', ')}`),
    arrCents: z.number().int('ARR is whole cents').min(0, 'ARR cannot be negative').max(Number.MAX_SAFE_INTEGER),
    contractStart: isoDay.nullish(),
    contractEnd: isoDay.nullish(),
  }),
  aeId: optionalUuid,
  csmId: optionalUuid,
  closedWonAt: z.date('closedWonAt must be a valid time'),
  context: handoffContextSchema,
  goLiveTarget: isoDay.nullish(),
  renewalWindowDays: z.number().int().min(0).max(730).optional(),
});
type ClosedWonInput = z.output<typeof closedWonSchema>;

class OpportunityRaceLost extends Error {}

async function requireUsersExist(tx: Tx, ids: { aeId?: string | null; csmId?: string | null }): Promise<void> {
  const wanted = [ids.aeId, ids.csmId].filter((id): id is string => Boolean(id));
  if (wanted.length === 0) return;
  const found = await tx.select({ id: users.id, role: users.role }).from(users).where(inArray(users.id, wanted));
  for (const [field, id] of [['aeId', ids.aeId], ['csmId', ids.csmId]] as const) {
    if (id && !found.some((user) => user.id === id)) {
      throw new InvalidInputError(`${field}: there is no Lifeline user with id ${id}. List people with the \`users\` query.`, field);
    }
  }
}

/** The ledger id of the MRR an opportunity moved: a repeat of the opportunity finds it instead of adding another. */
export function opportunityLedgerId(opportunityId: string): string {
  return `opportunity:${opportunityId}`;
}

/**
 * A deal closed-won. For a new customer (no account with this CRM id yet, or one still in Pre-onboarding): upserts
 * the account, creates the handoff, moves the account into Onboarding (source `rule`) and queues the handoff
 * message. For an existing customer: keeps its stage, name and owners, records the MRR the deal moves in the
 * revenue ledger and, when the deal ends later than the contract, extends it and opens its next renewal. One
 * transaction either way, idempotent on the opportunity id: a repeat returns what the first recorded with
 * `created: false` and changes nothing.
 */
export async function recordClosedWon(db: Db, params: RecordClosedWonParams): Promise<ClosedWon> {
  if (params.actor.role !== 'admin' && params.actor.role !== 'integration') {
    throw new ForbiddenError(`Your role (${params.actor.role}) cannot record closed-won deals: the CRM integration does that. Use an integration token, or ask an admin.`);
  }
  const input = parseInput(closedWonSchema, params);
  const existing = await findExisting(db, input.opportunityId);
  if (existing) return existing;
  try {
    return await db.transaction(async (tx) => {
      await requireUsersExist(tx, input);
      // Locked first, so the deal is judged (new or existing customer) on the account as it stays until commit.
      const [known] = await tx.select().from(accounts).where(eq(accounts.externalId, input.account.externalId)).for('update');
      if (known && known.stageKey !== PRE_ONBOARDING_STAGE) {
        // The same opportunity may have just made this account a new customer in a concurrent delivery: that
        // delivery's answer is this one's too.
        const [handedOff] = await tx.select({ id: handoffs.id }).from(handoffs).where(eq(handoffs.opportunityId, input.opportunityId));
        if (handedOff) throw new OpportunityRaceLost();
        return recordExistingCustomerDeal(tx, known, input);
      }
      return recordNewCustomer(tx, input);
    });
  } catch (error) {
    if (!(error instanceof OpportunityRaceLost)) throw error;
    const winner = await findExisting(db, input.opportunityId);
    if (!winner) throw new Error(`Opportunity ${input.opportunityId} was recorded concurrently but cannot be read back`);
    return winner;
  }
}

async function recordNewCustomer(tx: Tx, input: ClosedWonInput): Promise<NewCustomerClosedWon> {
  const ruleActor: Actor = { userId: null, role: 'admin', label: 'Closed-won rule' };
  const reason = `Closed-won: opportunity ${input.opportunityId}`;
  // A new account starts its history in Onboarding, entered by the rule at closed-won.
  const [upserted] = await upsertCrmAccounts(tx, {
    accounts: [{ ...input.account, aeId: input.aeId, csmId: input.csmId, stageKey: ONBOARDING_STAGE }],
    entry: { actor: ruleActor, source: 'rule', reason, at: input.closedWonAt },
  });
  if (!upserted) throw new Error('Account upsert returned no row');

  const handoff = await createHandoff(tx, {
    opportunityId: input.opportunityId,
    accountId: upserted.id,
    aeId: input.aeId ?? null,
    csmId: input.csmId ?? null,
    closedWonAt: input.closedWonAt,
    context: input.context,
    goLiveTarget: input.goLiveTarget ?? null,
  });
  // Another request recorded the same opportunity between our check and this insert: roll back ours.
  if (!handoff) throw new OpportunityRaceLost();

  if (!upserted.inserted) {
    const [current] = await tx.select().from(accounts).where(eq(accounts.id, upserted.id)).for('update');
    if (current && current.stageKey !== ONBOARDING_STAGE) {
      await moveAccountStageInTx(tx, {
        accountId: current.id,
        toStage: ONBOARDING_STAGE,
        expectedVersion: current.version,
        actor: ruleActor,
        source: 'rule',
        reason,
      });
    }
  }
  // Only a contract end the deal brings: one the account already had is the daily pass's to record.
  if (input.account.contractEnd) {
    await openDueRenewals(tx, { windowDays: input.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS, accountIds: [upserted.id] });
  }
  await notifyHandoff(tx, handoff);
  await startClosedWonPlaybooks(tx, handoff, input.closedWonAt);
  const [account] = await tx.select().from(accounts).where(eq(accounts.id, upserted.id));
  if (!account) throw new Error(`Account ${upserted.id} vanished inside its own transaction`);
  return { kind: 'new_customer', handoff, account, revenueChange: null, created: true };
}

/**
 * A new deal of a customer Lifeline already has (an expansion, a renewal): nothing about who owns the account or
 * where it is in its lifecycle changes, and nobody is asked to hand it off again. The account is locked.
 */
async function recordExistingCustomerDeal(tx: Tx, account: Account, input: ClosedWonInput): Promise<ExistingCustomerDeal> {
  const ledgerId = opportunityLedgerId(input.opportunityId);
  const [recorded] = await tx
    .select()
    .from(ruleFirings)
    .where(and(eq(ruleFirings.rule, EXISTING_CUSTOMER_DEAL_RULE), eq(ruleFirings.accountId, account.id), eq(ruleFirings.occasion, input.opportunityId)));
  if (recorded) return existingDealOf(tx, account, recorded.reason, ledgerId);

  const closedOn = input.closedWonAt.toISOString().slice(0, 10);
  const extendsContract = input.account.contractEnd !== null && input.account.contractEnd !== undefined && (account.contractEnd === null || input.account.contractEnd > account.contractEnd);
  // ARR 0 on an existing customer's deal carries no ARR (a co-termed swap, a renewal at the same price): keep it.
  const arrCents = input.account.arrCents > 0 ? input.account.arrCents : account.arrCents;
  // The ledger is in MRR: the deal sets the account's MRR from its effective date on (its contract start, or the
  // day it closed), and the movement's kind follows from the MRR the ledger has then.
  let revenueChange: RevenueChange | null = null;
  if (input.account.arrCents > 0) {
    const effectiveDate = input.account.contractStart ?? closedOn;
    const { mrrCents, hadRevenue } = await mrrOnDate(tx, account.id, effectiveDate, ledgerId);
    const delta = Math.round(input.account.arrCents / 12) - mrrCents;
    if (delta !== 0) {
      revenueChange = await writeRevenueChangeInTx(tx, account, {
        accountId: account.id,
        externalId: ledgerId,
        kind: mrrCents <= 0 ? (hadRevenue ? 'reactivation' : 'new') : delta > 0 ? 'expansion' : 'contraction',
        mrrDeltaCents: delta,
        effectiveDate,
        note: `Closed-won opportunity ${input.opportunityId}`,
      });
    }
  }

  // What the deal was: the ledger's movement says it best; without one, the ARR Lifeline had for the account.
  const movement = revenueChange?.kind;
  const kind: ExistingCustomerDeal['kind'] = extendsContract
    ? 'renewal'
    : movement === 'reactivation' || movement === 'expansion' || movement === 'contraction'
      ? movement
      : arrCents > account.arrCents
        ? 'expansion'
        : arrCents < account.arrCents
          ? 'contraction'
          : 'amendment';

  await tx
    .update(accounts)
    .set({
      arrCents,
      ...(extendsContract ? { contractEnd: input.account.contractEnd ?? account.contractEnd, contractStart: input.account.contractStart ?? account.contractStart } : {}),
      updatedAt: new Date(),
    })
    .where(eq(accounts.id, account.id));
  // After the account carries its new contract end: the renewal recorded is the account's own.
  const windowDays = input.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS;
  if (extendsContract && input.account.contractEnd) {
    await recordContractRenewed(tx, {
      accountId: account.id,
      contractEnd: input.account.contractEnd,
      windowDays,
      renewedAt: input.closedWonAt,
      outcome: `Renewed by opportunity ${input.opportunityId} until ${input.account.contractEnd}`,
    });
  }
  await tx.insert(ruleFirings).values({
    rule: EXISTING_CUSTOMER_DEAL_RULE,
    accountId: account.id,
    occasion: input.opportunityId,
    // The kind, so a repeat of the opportunity answers what the first delivery recorded.
    reason: kind,
    firedAt: input.closedWonAt,
  });
  // The account's open expansion lead, qualified by customer success, is won by this deal (once: the deal is recorded once).
  await closeLeadWonInTx(tx, { accountId: account.id, opportunityId: input.opportunityId, mrrCents: revenueChange?.mrrDeltaCents ?? 0, wonAt: input.closedWonAt });
  const [updated] = await tx.select().from(accounts).where(eq(accounts.id, account.id));
  if (!updated) throw new Error(`Account ${account.id} vanished inside its own transaction`);
  return { kind, handoff: null, account: updated, revenueChange, created: true };
}

async function existingDealOf(tx: Tx, account: Account, recordedKind: string, ledgerId: string): Promise<ExistingCustomerDeal> {
  const kind = closedWonKinds.find((candidate): candidate is ExistingCustomerDeal['kind'] => candidate === recordedKind && candidate !== 'new_customer') ?? 'amendment';
  const [revenueChange] = await tx.select().from(revenueChanges).where(eq(revenueChanges.externalId, ledgerId));
  return { kind, handoff: null, account, revenueChange: revenueChange ?? null, created: false };
}

async function findExisting(db: Db, opportunityId: string): Promise<ClosedWon | undefined> {
  const [row] = await db
    .select({ handoff: handoffs, account: accounts })
    .from(handoffs)
    .innerJoin(accounts, eq(accounts.id, handoffs.accountId))
    .where(eq(handoffs.opportunityId, opportunityId));
  return row ? { kind: 'new_customer', ...row, revenueChange: null, created: false } : undefined;
}

