/**
 * Expansion leads qualified by customer success: the CSM qualifies an expansion signal (or a conversation) into a
 * lead handed to the account's AE, who accepts or declines it; a closed-won deal of the account closes it won, or
 * the AE marks it lost. Who may take each step, its messages, the reads and the lead metrics.
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Tx, queryRows } from '../db/client.ts';
import { type Account, type Lead, type LeadStatus, type LeadUrgency, accounts, leadStatuses, leadUrgencies, leads, ruleFirings, users } from '../db/schema.ts';
import { readableOwnerId, requireAccess } from './access.ts';
import type { Actor } from './actors.ts';
import { DAY_MS } from './dates.ts';
import { ForbiddenError, InvalidInputError, NotFoundError } from './errors.ts';
import { requireManagerOfOwners } from './escalations.ts';
import { handoffChannelTarget, userTarget } from './notifications.ts';
import { enqueueNotification } from './outbox.ts';
import { isUuid, parseInput } from './validation.ts';

/** The rule whose firings a CSM qualifies into leads. */
export const LEAD_SIGNAL_RULE = 'expansion_signal';
export const MAX_LEAD_PAGE = 100;

const statusLabels: Record<LeadStatus, string> = {
  qualified: 'waiting for the account executive to accept or decline it',
  accepted: 'accepted by the account executive and open until a deal closes or it is marked lost',
  declined: 'declined by the account executive',
  won: 'won: a closed-won deal of the account closed it',
  lost: 'lost',
};

export function leadStatusLabel(status: LeadStatus): string {
  return statusLabels[status];
}

const reasonText = (field: string) =>
  z.string(`${field} is required`).trim().min(1, `say why in a few words`).max(2000, 'keep it under 2,000 characters');

const qualifySchema = z
  .object({
    accountId: z.string().nullish(),
    firingId: z.number().int('a firing id is a whole number').positive().nullish(),
    wants: z.string('say what the customer wants').trim().min(1, 'say what the customer wants, even briefly').max(2000, 'keep it under 2,000 characters'),
    estimatedMrrCents: z
      .number('the estimated MRR is a number of cents')
      .int('the estimated MRR is whole cents')
      .min(0, 'the estimated MRR cannot be negative')
      .max(100_000_000_00, 'the estimated MRR is at most $100,000,000 a month'),
    urgency: z.enum(leadUrgencies, `use one of ${leadUrgencies.join(', ')}`),
  })
  .refine((input) => Boolean(input.accountId) || Boolean(input.firingId), {
    message: 'name the account (accountId) or the expansion signal (firingId) the lead comes from',
    path: ['accountId'],
  });

export interface QualifyLeadParams {
  /** The account, for a lead qualified by hand; taken from the firing otherwise. */
  accountId?: string | null;
  /** The expansion signal (a rule_firings row) the lead is qualified from: one lead per firing. */
  firingId?: number | null;
  wants: string;
  estimatedMrrCents: number;
  urgency: LeadUrgency;
  actor: Actor;
  now?: Date;
}

export interface QualifiedLead {
  lead: Lead;
  /** False when the firing already had its lead: nothing was changed. */
  created: boolean;
}

function isManagerOrAdmin(actor: Actor): boolean {
  return actor.role === 'admin' || actor.role === 'manager';
}

async function userName(tx: Db | Tx, id: string | null): Promise<string | null> {
  if (!id) return null;
  const [user] = await tx.select({ name: users.name }).from(users).where(eq(users.id, id));
  return user?.name ?? null;
}

/** The account's CSM, their manager or an admin qualifies a lead. */
async function requireQualifier(tx: Tx, account: Account, actor: Actor): Promise<void> {
  if (isManagerOrAdmin(actor)) {
    await requireManagerOfOwners(tx, { actor, ownerIds: [account.csmId], action: 'qualify leads', subject: account.name });
    return;
  }
  if (actor.role === 'csm' && actor.userId !== null && actor.userId === account.csmId) return;
  const csm = await userName(tx, account.csmId);
  throw new ForbiddenError(
    csm
      ? `Only the account's CSM (${csm}), their manager or an admin can qualify a lead on it.`
      : 'This account has no CSM; only a manager or an admin can qualify a lead on it.',
  );
}

function leadDedupe(lead: Pick<Lead, 'id' | 'version'>): string {
  return `lead:${lead.id}:v${lead.version}`;
}

/** The lead's message to its AE (the account's AE; the handoff channel when it has none), redrawn at every step. */
async function notifyAe(tx: Tx, lead: Lead): Promise<void> {
  await enqueueNotification(tx, {
    kind: 'lead_handed',
    dedupeKey: leadDedupe(lead),
    target: lead.aeId ? userTarget(lead.aeId) : handoffChannelTarget,
    messageKey: `lead:${lead.id}`,
    payload: { leadId: lead.id },
  });
}

/** The outcome (accepted, declined, won, lost) back to the account's CSM, or to whoever qualified the lead. */
async function notifyOutcome(tx: Tx, lead: Lead): Promise<void> {
  const [account] = await tx.select({ csmId: accounts.csmId }).from(accounts).where(eq(accounts.id, lead.accountId));
  const csmId = account?.csmId ?? lead.createdBy;
  if (!csmId) return;
  await enqueueNotification(tx, {
    kind: 'lead_outcome',
    dedupeKey: `lead_outcome:${lead.id}:${lead.status}`,
    target: userTarget(csmId),
    payload: { leadId: lead.id },
  });
}

async function lockAccount(tx: Tx, accountId: string): Promise<Account> {
  const account = isUuid(accountId) ? (await tx.select().from(accounts).where(eq(accounts.id, accountId)))[0] : undefined;
  if (!account) throw new NotFoundError(`No account with id ${accountId}. Find it with the \`accounts\` query.`, 'accountId');
  return account;
}

/**
 * Qualifies an expansion lead and hands it to the account's AE (a DM with Accept and Decline). From an expansion
 * signal, idempotent on the firing: the same signal qualified twice (a double click, two CSMs) returns the first
 * lead with `created: false`.
 */
export async function qualifyLead(db: Db, params: QualifyLeadParams): Promise<QualifiedLead> {
  const input = parseInput(qualifySchema, params);
  const now = params.now ?? new Date();
  return db.transaction(async (tx) => {
    let accountId = input.accountId ?? null;
    let signalAt = now;
    if (input.firingId) {
      const [firing] = await tx.select().from(ruleFirings).where(eq(ruleFirings.id, input.firingId));
      if (!firing) throw new NotFoundError(`No signal with id ${input.firingId}. Qualify the lead by hand with the account's id instead.`, 'firingId');
      if (firing.rule !== LEAD_SIGNAL_RULE) {
        throw new InvalidInputError(`Signal ${input.firingId} is a ${firing.rule.replace(/_/g, ' ')} alert, not an expansion signal. Qualify the lead by hand with the account's id instead.`, 'firingId');
      }
      if (accountId && accountId !== firing.accountId) throw new InvalidInputError('That signal is about another account. Leave accountId out, or qualify the lead by hand.', 'accountId');
      accountId = firing.accountId;
      signalAt = firing.firedAt;
      const [existing] = await tx.select().from(leads).where(eq(leads.firingId, firing.id));
      if (existing) return { lead: existing, created: false };
    }
    if (!accountId) throw new InvalidInputError('Name the account the lead is about.', 'accountId');
    const account = await lockAccount(tx, accountId);
    await requireQualifier(tx, account, params.actor);
    const [lead] = await tx
      .insert(leads)
      .values({
        accountId: account.id,
        firingId: input.firingId ?? null,
        signalAt,
        wants: input.wants,
        estimatedMrrCents: input.estimatedMrrCents,
        urgency: input.urgency,
        createdBy: params.actor.userId,
        createdByLabel: params.actor.label,
        aeId: account.aeId,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing({ target: leads.firingId })
      .returning();
    if (!lead) {
      // Qualified from the same signal concurrently: the other request's lead is this one's answer.
      const [winner] = await tx.select().from(leads).where(eq(leads.firingId, input.firingId ?? -1));
      if (!winner) throw new Error(`Lead of signal ${input.firingId} was qualified concurrently but cannot be read back`);
      return { lead: winner, created: false };
    }
    await notifyAe(tx, lead);
    return { lead, created: true };
  });
}

async function lockLead(tx: Tx, leadId: string): Promise<Lead> {
  const lead = isUuid(leadId) ? (await tx.select().from(leads).where(eq(leads.id, leadId)).for('update'))[0] : undefined;
  if (!lead) throw new NotFoundError(`No lead with id ${leadId}. List leads with the \`leads\` query.`, 'leadId');
  return lead;
}

function requireStatus(lead: Lead, allowed: readonly LeadStatus[], action: string): void {
  if (allowed.includes(lead.status)) return;
  throw new InvalidInputError(`This lead cannot ${action}: it is ${statusLabels[lead.status]}. Leads go qualified → accepted or declined → won or lost.`, 'leadId');
}

/** The lead's AE (or the account's current AE), a manager of the people on it, or an admin. */
async function requireAe(tx: Tx, lead: Lead, actor: Actor, action: string): Promise<void> {
  const [account] = await tx.select({ name: accounts.name, aeId: accounts.aeId, csmId: accounts.csmId }).from(accounts).where(eq(accounts.id, lead.accountId));
  const name = account?.name ?? 'this account';
  if (isManagerOrAdmin(actor)) {
    await requireManagerOfOwners(tx, { actor, ownerIds: [lead.aeId, account?.aeId ?? null, account?.csmId ?? null], action: `${action} leads`, subject: `the lead on ${name}` });
    return;
  }
  if (actor.role === 'ae' && actor.userId !== null && (actor.userId === lead.aeId || actor.userId === account?.aeId)) return;
  const ae = await userName(tx, lead.aeId ?? account?.aeId ?? null);
  throw new ForbiddenError(
    ae
      ? `Only the account's account executive (${ae}), a manager or an admin can ${action} this lead.`
      : `This account has no account executive; only a manager or an admin can ${action} this lead.`,
  );
}

type LeadChanges = Partial<Omit<typeof leads.$inferInsert, 'id' | 'version'>>;

async function applyChange(tx: Tx, lead: Lead, changes: LeadChanges, now: Date): Promise<Lead> {
  const [updated] = await tx
    .update(leads)
    .set({ ...changes, version: lead.version + 1, updatedAt: now })
    .where(and(eq(leads.id, lead.id), eq(leads.version, lead.version)))
    .returning();
  if (!updated) throw new Error(`Lead ${lead.id} changed under its row lock`);
  await notifyAe(tx, updated);
  await notifyOutcome(tx, updated);
  return updated;
}

export interface LeadActionParams {
  leadId: string;
  actor: Actor;
  now?: Date;
}

/** The AE takes the lead on: qualified → accepted. */
export async function acceptLead(db: Db, params: LeadActionParams): Promise<Lead> {
  const now = params.now ?? new Date();
  return db.transaction(async (tx) => {
    const lead = await lockLead(tx, params.leadId);
    await requireAe(tx, lead, params.actor, 'accept');
    requireStatus(lead, ['qualified'], 'be accepted');
    return applyChange(tx, lead, { status: 'accepted', acceptedAt: now, acceptedBy: params.actor.userId }, now);
  });
}

export interface LeadReasonParams extends LeadActionParams {
  reason: string;
}

/** The AE turns the lead down, saying why: qualified → declined. */
export async function declineLead(db: Db, params: LeadReasonParams): Promise<Lead> {
  const reason = parseInput(reasonText('reason'), params.reason, 'reason');
  const now = params.now ?? new Date();
  return db.transaction(async (tx) => {
    const lead = await lockLead(tx, params.leadId);
    await requireAe(tx, lead, params.actor, 'decline');
    requireStatus(lead, ['qualified'], 'be declined');
    return applyChange(tx, lead, { status: 'declined', declinedAt: now, declinedBy: params.actor.userId, declineReason: reason }, now);
  });
}

/** Refuses someone who could not decline the lead, before the form asking for the reason opens. */
export async function getLeadToDecline(db: Db, params: LeadActionParams): Promise<Lead> {
  return db.transaction(async (tx) => {
    const lead = await lockLead(tx, params.leadId);
    await requireAe(tx, lead, params.actor, 'decline');
    requireStatus(lead, ['qualified'], 'be declined');
    return lead;
  });
}

/** The AE gives up on an accepted lead, saying why: accepted → lost. */
export async function markLeadLost(db: Db, params: LeadReasonParams): Promise<Lead> {
  const reason = parseInput(reasonText('reason'), params.reason, 'reason');
  const now = params.now ?? new Date();
  return db.transaction(async (tx) => {
    const lead = await lockLead(tx, params.leadId);
    await requireAe(tx, lead, params.actor, 'mark lost');
    requireStatus(lead, ['accepted'], 'be marked lost');
    return applyChange(tx, lead, { status: 'lost', lostAt: now, lostBy: params.actor.userId, lostReason: reason }, now);
  });
}

export interface CloseLeadWonParams {
  accountId: string;
  opportunityId: string;
  /** The MRR the deal added (its ledger movement when positive, 0 otherwise). */
  mrrCents: number;
  wonAt: Date;
}

/**
 * A closed-won deal of the account closes its open lead (accepted before qualified, the oldest first) as won, with
 * the deal and its MRR; called inside recordClosedWon's transaction. A deal closes at most one lead, and a repeat
 * of the deal closes none (the unique opportunity on leads holds it even under concurrency).
 */
export async function closeLeadWonInTx(tx: Tx, params: CloseLeadWonParams): Promise<Lead | undefined> {
  const [already] = await tx.select({ id: leads.id }).from(leads).where(eq(leads.wonOpportunityId, params.opportunityId));
  if (already) return undefined;
  const [open] = await tx
    .select()
    .from(leads)
    .where(and(eq(leads.accountId, params.accountId), inArray(leads.status, ['accepted', 'qualified'])))
    .orderBy(sql`case when ${leads.status} = 'accepted' then 0 else 1 end`, asc(leads.createdAt), asc(leads.id))
    .limit(1)
    .for('update');
  if (!open) return undefined;
  return applyChange(tx, open, { status: 'won', wonAt: params.wonAt, wonOpportunityId: params.opportunityId, wonMrrCents: Math.max(0, params.mrrCents) }, new Date());
}

// Reads.

/** SECURITY: an account executive reads the leads handed to them and those of the accounts they sold. */
function readableCondition(reader: Actor) {
  const aeId = readableOwnerId(reader);
  return aeId ? or(eq(leads.aeId, aeId), eq(accounts.aeId, aeId)) : undefined;
}

/** One lead, or undefined when there is none or the reader may not read it. */
export async function getLead(db: Db | Tx, params: { id: string; reader: Actor }): Promise<Lead | undefined> {
  const condition = readableCondition(params.reader);
  if (!isUuid(params.id)) return undefined;
  const [row] = await db
    .select({ lead: leads })
    .from(leads)
    .innerJoin(accounts, eq(accounts.id, leads.accountId))
    .where(and(eq(leads.id, params.id), condition));
  return row?.lead;
}

export interface ListLeadsParams {
  reader: Actor;
  status?: LeadStatus | null;
  accountId?: string | null;
  first?: number;
  after?: string | null;
}

export interface LeadPage {
  items: Lead[];
  hasNextPage: boolean;
}

/** Leads are listed newest first; the cursor is the last one's creation time and id. */
export function leadCursor(lead: Pick<Lead, 'createdAt' | 'id'>): string {
  return Buffer.from(`${lead.createdAt.toISOString()}|${lead.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = at ? new Date(at) : null;
  if (!createdAt || Number.isNaN(createdAt.getTime()) || !id || !isUuid(id) || rest.length > 0) {
    throw new InvalidInputError('`after` is not a cursor from this list. Pass the `endCursor` of the previous page, or leave it out to start over.', 'after');
  }
  return { createdAt, id };
}

/** Leads the reader may see, newest first, a page at a time. */
export async function listLeads(db: Db | Tx, params: ListLeadsParams): Promise<LeadPage> {
  const condition = readableCondition(params.reader);
  if (params.status && !leadStatuses.includes(params.status)) throw new InvalidInputError(`status: use one of ${leadStatuses.join(', ')}.`, 'status');
  if (params.accountId && !isUuid(params.accountId)) throw new InvalidInputError('`accountId` must be an account id (a UUID).', 'accountId');
  const first = Math.min(Math.max(params.first ?? 25, 1), MAX_LEAD_PAGE);
  const after = params.after ? decodeCursor(params.after) : null;
  const rows = await db
    .select({ lead: leads })
    .from(leads)
    .innerJoin(accounts, eq(accounts.id, leads.accountId))
    .where(
      and(
        condition,
        params.status ? eq(leads.status, params.status) : undefined,
        params.accountId ? eq(leads.accountId, params.accountId) : undefined,
        after ? or(lt(leads.createdAt, after.createdAt), and(eq(leads.createdAt, after.createdAt), gt(leads.id, after.id))) : undefined,
      ),
    )
    .orderBy(desc(leads.createdAt), asc(leads.id))
    .limit(first + 1);
  return { items: rows.slice(0, first).map((row) => row.lead), hasNextPage: rows.length > first };
}

const periodSchema = z
  .object({ from: z.iso.date('use a calendar date written YYYY-MM-DD'), to: z.iso.date('use a calendar date written YYYY-MM-DD') })
  .refine((period) => period.from <= period.to, { message: 'the period must end on or after its first day', path: ['to'] });

export interface LeadMetrics {
  from: string;
  to: string;
  /** Leads qualified in the period. */
  created: number;
  /** Leads accepted by their AE in the period. */
  accepted: number;
  /** Leads closed won in the period. */
  won: number;
  /** Σ the MRR the deals that closed those won leads added: expansion revenue customer success brought in. */
  expansionMrrCents: number;
  /** Median days from the signal (or the hand qualification) to the closed-won, over the leads won in the period. */
  medianDaysSignalToWon: number | null;
}

/** Lead metrics for the days from `from` to `to` (both included, UTC); managers and admins. */
export async function leadMetrics(db: Db | Tx, params: { from: string; to: string; reader: Actor }): Promise<LeadMetrics> {
  requireAccess(params.reader, 'read_metrics');
  const period = parseInput(periodSchema, { from: params.from, to: params.to });
  const start = new Date(`${period.from}T00:00:00Z`);
  const end = new Date(Date.parse(`${period.to}T00:00:00Z`) + DAY_MS);
  const inPeriod = (column: typeof leads.createdAt | typeof leads.acceptedAt | typeof leads.wonAt) => and(gte(column, start), lt(column, end));
  const [row] = await queryRows<{ created: number; accepted: number; won: number; expansion: string | number | null; median_days: number | null }>(
    db,
    sql`
    select
      count(*) filter (where ${inPeriod(leads.createdAt)})::int as created,
      count(*) filter (where ${inPeriod(leads.acceptedAt)})::int as accepted,
      count(*) filter (where ${leads.status} = 'won' and ${inPeriod(leads.wonAt)})::int as won,
      coalesce(sum(${leads.wonMrrCents}) filter (where ${leads.status} = 'won' and ${inPeriod(leads.wonAt)}), 0) as expansion,
      percentile_cont(0.5) within group (order by extract(epoch from (${leads.wonAt} - ${leads.signalAt})) / 86400.0)
        filter (where ${leads.status} = 'won' and ${inPeriod(leads.wonAt)}) as median_days
    from ${leads}`,
  );
  return {
    from: period.from,
    to: period.to,
    created: row?.created ?? 0,
    accepted: row?.accepted ?? 0,
    won: row?.won ?? 0,
    expansionMrrCents: Number(row?.expansion ?? 0),
    medianDaysSignalToWon: row?.median_days === null || row?.median_days === undefined ? null : Math.round(Number(row.median_days) * 10) / 10,
  };
}

export interface SignalToQualify {
  firingId: number;
  account: Account;
  reason: string;
  firedAt: Date;
}

/**
 * The expansion signal someone is about to qualify, refused as qualifying it would be (only the account's CSM,
 * their manager or an admin; not a signal already qualified), so the form never opens for someone who cannot save it.
 */
export async function getSignalToQualify(db: Db, params: { firingId: number; actor: Actor }): Promise<SignalToQualify> {
  return db.transaction(async (tx) => {
    const firingId = Number.isSafeInteger(params.firingId) && params.firingId > 0 ? params.firingId : null;
    const [firing] = firingId ? await tx.select().from(ruleFirings).where(eq(ruleFirings.id, firingId)) : [];
    if (!firing || firing.rule !== LEAD_SIGNAL_RULE) throw new NotFoundError('This expansion signal is no longer in Lifeline, so it cannot be qualified.', 'firingId');
    const account = await lockAccount(tx, firing.accountId);
    await requireQualifier(tx, account, params.actor);
    const [existing] = await tx.select().from(leads).where(eq(leads.firingId, firing.id));
    if (existing) {
      const by = existing.createdByLabel;
      throw new InvalidInputError(`${by} already qualified this signal as a lead; it is ${statusLabels[existing.status]}.`, 'firingId');
    }
    return { firingId: firing.id, account, reason: firing.reason, firedAt: firing.firedAt };
  });
}
