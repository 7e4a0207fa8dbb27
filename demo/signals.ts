import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type Account, type Segment, type User, csmTouches } from '../db/schema.ts';
import type { Actor } from '../domain/actors.ts';
import { actorFromUser, systemReader } from '../domain/actors.ts';
import { runRenewals } from '../domain/renewals/checkpoints.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS } from '../domain/renewals/window.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { DEFAULT_THRESHOLDS, HEALTH_MODEL_VERSION } from '../domain/health/model.ts';
import { type ClosedWonAccount, recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { acceptHandoff, confirmHandoff, getLatestHandoffsByAccountIds, scheduleKickoff } from '../domain/handoffs/handoffs.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { runRules } from '../domain/rules.ts';
import { createTask } from '../domain/plays/tasks.ts';
import { type UsageRowInput, recordFirstValue, recordNps, recordTicket, recordUsage, resolveTicket } from '../domain/signals.ts';
import { DAY_MS, isoDay } from '../domain/dates.ts';

/** One account of the demo book as seedDemoBook created it, with where it stands. */
export interface DemoAccount {
  account: Account;
  /** Index of its current stage in the default stages: 0 pre-onboarding … 5 churned. */
  stageIndex: number;
  csm: User;
  ae: User;
  /** When it entered onboarding (closed-won), if it got there. */
  onboardedAt: Date | null;
  /** When it churned, if it did. */
  churnedAt: Date | null;
}

/**
 * How an account's product usage goes over the last 90 days, so the book has every kind of health: steady and
 * healthy, falling away (usage, tickets and NPS all say so), growing into advanced features (an expansion
 * signal), or just starting.
 */
type Trajectory = 'steady' | 'declining' | 'growing' | 'ramping';

const integration: Actor = { userId: null, role: 'integration', label: 'Demo data' };
const USAGE_DAYS = 90;
const seatsBySegment: Record<Segment, number> = { smb: 12, mid_market: 60, enterprise: 240 };

function trajectoryOf(demo: DemoAccount, index: number): Trajectory {
  if (demo.stageIndex <= 2) return 'ramping';
  if (index % 5 === 0) return 'declining';
  if (index % 7 === 3) return 'growing';
  return 'steady';
}

/** Share of seats active `daysAgo` days ago (0 = today), between 0 and 1; a declining account falls to `floor`. */
function activeShare(trajectory: Trajectory, daysAgo: number, wobble: number, floor: number): number {
  const progress = 1 - daysAgo / USAGE_DAYS;
  const base =
    trajectory === 'declining'
      ? daysAgo > 21
        ? 0.78
        : floor + ((0.78 - floor) * daysAgo) / 21
      : trajectory === 'growing'
        ? 0.55 + 0.35 * progress
        : trajectory === 'ramping'
          ? 0.1 + 0.5 * progress
          : 0.74;
  return Math.max(0, Math.min(1, base + (wobble - 0.5) * 0.12));
}

/**
 * Gives the demo book the signals a real one has, through the same domain functions the API uses: 90 days of
 * product usage, support tickets, NPS answers, CSM touches, first value, the revenue ledger behind NRR and GRR,
 * handoffs at every step (one overdue), renewals, and a first health score with its reasons.
 */
export async function seedDemoSignals(
  db: Db,
  book: DemoAccount[],
  now: Date,
  random: () => number,
  renewalWindowDays: number = DEFAULT_RENEWAL_WINDOW_DAYS,
): Promise<void> {
  const usage: UsageRowInput[] = [];
  const today = Date.parse(`${isoDay(now)}T00:00:00Z`);
  for (const [index, demo] of book.entries()) {
    const { account } = demo;
    const trajectory = trajectoryOf(demo, index);
    const seats = seatsBySegment[account.segment];
    const start = demo.onboardedAt ? Math.max(demo.onboardedAt.getTime(), today - (USAGE_DAYS - 1) * DAY_MS) : null;
    const end = demo.churnedAt ? demo.churnedAt.getTime() : today;
    for (let day = start === null ? end + DAY_MS : Date.parse(`${isoDay(new Date(start))}T00:00:00Z`); day <= end; day += DAY_MS) {
      const daysAgo = Math.round((today - day) / DAY_MS);
      // Weekends are quiet in B2B products.
      const weekday = new Date(day).getUTCDay();
      const weekend = weekday === 0 || weekday === 6 ? 0.25 : 1;
      const activeUsers = Math.round(seats * activeShare(trajectory, daysAgo, random(), index % 10 === 0 ? 0.12 : 0.35) * weekend);
      const advanced = trajectory === 'growing' ? Math.round(activeUsers * (0.1 + 0.4 * (1 - daysAgo / USAGE_DAYS))) : Math.round(activeUsers * 0.05);
      usage.push({ accountId: account.id, day: isoDay(new Date(day)), activeUsers, seats, keyEvents: Math.round(activeUsers * (2 + random() * 2)), advancedEvents: advanced });
    }

    if (demo.onboardedAt === null) continue;
    // Support: a couple of resolved questions for everyone; open, urgent trouble where usage is falling.
    const opened = (daysAgo: number) => new Date(now.getTime() - daysAgo * DAY_MS);
    const resolved = await recordTicket(db, { accountId: account.id, severity: 'normal', subject: 'SSO setup question', openedAt: opened(30 + (index % 20)), actor: integration });
    await resolveTicket(db, { ticketId: resolved.id, resolvedAt: opened(28 + (index % 20)), actor: integration });
    if (trajectory === 'declining') {
      await recordTicket(db, { accountId: account.id, severity: 'urgent', subject: 'Nightly sync failing since the last release', openedAt: opened(9), actor: integration });
      await recordTicket(db, { accountId: account.id, severity: 'high', subject: 'Dashboards time out for large teams', openedAt: opened(4), actor: integration });
    }
    // NPS: the champion and a user, once the account has been live a while.
    if (demo.stageIndex >= 3) {
      const champion = trajectory === 'declining' ? 4 : trajectory === 'growing' ? 10 : 8 + (index % 2);
      const domain = account.domain ?? 'customer.example';
      await recordNps(db, { accountId: account.id, kind: 'nps', score: champion, respondentRole: 'champion', respondentEmail: `champion@${domain}`, respondedAt: opened(12 + (index % 30)), actor: integration });
      await recordNps(db, { accountId: account.id, kind: 'nps', score: trajectory === 'declining' ? 6 : 9, respondentRole: 'user', respondentEmail: `user@${domain}`, respondedAt: opened(40 + (index % 30)), actor: integration });
      await recordFirstValue(db, { accountId: account.id, reachedAt: new Date(demo.onboardedAt.getTime() + (18 + (index % 25)) * DAY_MS), description: 'First weekly report shared with leadership', actor: integration });
    }
    if (demo.churnedAt === null) {
      // Touches: regular for most, none for weeks on a couple of the accounts falling away.
      const lastTouch = trajectory === 'declining' && index % 2 === 0 ? 45 : 2 + (index % 12);
      await db.insert(csmTouches).values([
        { accountId: account.id, userId: demo.csm.id, kind: 'call', occurredAt: opened(lastTouch) },
        { accountId: account.id, userId: demo.csm.id, kind: 'email', occurredAt: opened(lastTouch + 14) },
      ]);
    }

    // The revenue ledger: new business at contract start, then what happened since, in date order and only while
    // the customer still pays (the ledger refuses an expansion after a churn); a churn takes whatever MRR is left.
    for (const movement of revenueHistory(demo, trajectory, index, now)) {
      await recordRevenueChange(db, { accountId: account.id, ...movement, actor: integration });
    }
  }
  await recordUsage(db, { rows: usage, actor: integration });
  await seedHandoffs(db, book.filter((demo) => demo.stageIndex === 1), now);
  await runRenewals(db, { now, windowDays: renewalWindowDays });
  await recomputeHealth(db, { now });
  // What the rules notice on the first morning (usage falling, stages past their SLA…) becomes alerts and tasks.
  await runRules(db, { now });
  await seedDemoTasks(db, book, now);
  await seedHealthHistory(db, book, now);
}

/** How far back the demo's weekly health history goes: about nine months. */
const HISTORY_DAYS = 273;

/**
 * Weekly health history behind the first score, so the health calibration has something to read on a fresh start:
 * from onboarding (at most about nine months back) to a week before now, or to the day before a churn. An account
 * that churned went downhill over its last ten weeks (At risk, then Critical, usage low first); one falling away now
 * was healthy until about a month ago; the rest stay mostly Healthy with the odd At risk week. Written in one
 * statement, as history imported from before Lifeline: the recompute only ever writes the present.
 */
async function seedHealthHistory(db: Db, book: DemoAccount[], now: Date): Promise<void> {
  const earliest = now.getTime() - HISTORY_DAYS * DAY_MS;
  const rows = book.flatMap((demo, index) => {
    if (demo.onboardedAt === null) return [];
    const start = Math.max(demo.onboardedAt.getTime(), earliest);
    const end = demo.churnedAt ? demo.churnedAt.getTime() - DAY_MS : now.getTime() - 7 * DAY_MS;
    if (end < start) return [];
    const kind = demo.churnedAt ? 'churning' : trajectoryOf(demo, index) === 'declining' ? 'declining' : 'steady';
    return [{ account_id: demo.account.id, start_at: new Date(start).toISOString(), end_at: new Date(end).toISOString(), kind, seed: index }];
  });
  if (rows.length === 0) return;
  const { healthyMin, atRiskMin } = DEFAULT_THRESHOLDS;
  await db.execute(sql`
    insert into health_scores (account_id, score, status, components, reasons, model_version, computed_at)
    select b.account_id, s.score,
      (case when s.score >= ${healthyMin} then 'healthy' when s.score >= ${atRiskMin} then 'at_risk' else 'critical' end)::health_status,
      jsonb_build_object(
        'usage', jsonb_build_object('score', greatest(s.score - 12, 0), 'weight', 40, 'detail', 'Weekly history'),
        'support', jsonb_build_object('score', least(s.score + 6, 100), 'weight', 20, 'detail', 'Weekly history'),
        'nps', jsonb_build_object('score', least(s.score + 10, 100), 'weight', 20, 'detail', 'Weekly history'),
        'engagement', jsonb_build_object('score', s.score, 'weight', 20, 'detail', 'Weekly history')
      ),
      '[]'::jsonb, ${HEALTH_MODEL_VERSION}, w.at
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as b(account_id uuid, start_at timestamptz, end_at timestamptz, kind text, seed int)
    cross join lateral generate_series(b.start_at, b.end_at, interval '7 days') as w(at)
    cross join lateral (
      select floor(extract(epoch from b.end_at - w.at) / 604800)::int as weeks_left,
        floor(extract(epoch from w.at - b.start_at) / 604800)::int as week
    ) t
    cross join lateral (
      select (case
        when b.kind = 'churning' then least(84, 30 + 5 * t.weeks_left) + (b.seed + t.week) % 5 - 2
        when b.kind = 'declining' and t.weeks_left < 4 then 48 + 6 * t.weeks_left + (b.seed + t.week) % 5 - 2
        when (b.seed * 3 + t.week) % 13 = 0 then 58 + (b.seed + t.week) % 9
        else 74 + (b.seed * 7 + t.week * 13) % 19
      end)::int as score
    ) s`);
}

/**
 * Work people gave each other, beside what the rules created: each CSM has one task due today and one a day
 * late, so App Home and the morning DM show due and overdue work from the first start.
 */
async function seedDemoTasks(db: Db, book: DemoAccount[], now: Date): Promise<void> {
  const live = book.filter((demo) => demo.churnedAt === null && demo.stageIndex >= 2);
  const byCsm = new Map<string, DemoAccount[]>();
  for (const demo of live) byCsm.set(demo.csm.id, [...(byCsm.get(demo.csm.id) ?? []), demo]);
  const yesterday = new Date(now.getTime() - DAY_MS);
  for (const accountsOfCsm of byCsm.values()) {
    const [first, second] = accountsOfCsm;
    if (!first) continue;
    const csmActor = actorFromUser(first.csm);
    await createTask(db, { accountId: first.account.id, title: 'Prepare the quarterly business review deck', dueOn: isoDay(now), actor: csmActor, now });
    if (second) {
      await createTask(db, { accountId: second.account.id, title: 'Send the recap of the admin training', dueOn: isoDay(yesterday), actor: csmActor, now: yesterday });
    }
  }
}

type DemoMovement = { kind: 'new' | 'expansion' | 'contraction' | 'churn'; mrrDeltaCents: number; effectiveDate: string; externalId: string; note?: string };

/** An account's revenue ledger, oldest first: each movement valid for the MRR the ones before it leave. */
function revenueHistory(demo: DemoAccount, trajectory: Trajectory, index: number, now: Date): DemoMovement[] {
  const { account } = demo;
  const mrr = Math.round(account.arrCents / 12);
  const contractStart = account.contractStart ?? isoDay(demo.onboardedAt ?? now);
  const daysAgo = (days: number) => isoDay(new Date(now.getTime() - days * DAY_MS));
  const candidates: DemoMovement[] = [{ kind: 'new', mrrDeltaCents: mrr, effectiveDate: contractStart, externalId: `demo-new-${index}` }];
  if (trajectory === 'growing') {
    candidates.push({ kind: 'expansion', mrrDeltaCents: Math.round(mrr * 0.25), effectiveDate: daysAgo(20), externalId: `demo-expansion-${index}`, note: 'Added the analytics add-on' });
  }
  if (trajectory === 'declining' && demo.stageIndex === 4) {
    candidates.push({ kind: 'contraction', mrrDeltaCents: -Math.round(mrr * 0.2), effectiveDate: daysAgo(35), externalId: `demo-contraction-${index}`, note: 'Dropped 20% of seats at the mid-term review' });
  }
  const churnedOn = demo.churnedAt ? isoDay(demo.churnedAt) : null;
  const history: DemoMovement[] = [];
  let current = 0;
  for (const movement of candidates.sort((a, b) => a.effectiveDate.localeCompare(b.effectiveDate))) {
    // Nothing changes the revenue of a customer who has left.
    if (churnedOn !== null && movement.effectiveDate >= churnedOn) continue;
    history.push(movement);
    current += movement.mrrDeltaCents;
  }
  if (churnedOn !== null && current > 0) {
    history.push({ kind: 'churn', mrrDeltaCents: -current, effectiveDate: churnedOn, externalId: `demo-churn-${index}` });
  }
  return history;
}

/** A new customer of the demo book, closed-won by the CRM: the account is created in Onboarding with its handoff. */
export async function closeDemoDeal(
  db: Db,
  params: { profile: ClosedWonAccount; ae: User; csm: User; closedWonAt: Date; step: number; now: Date; renewalWindowDays?: number | undefined },
): Promise<Account> {
  const { profile, now, step } = params;
  const closed = await recordClosedWon(db, {
    opportunityId: `demo-opp-${profile.externalId}`,
    account: profile,
    aeId: params.ae.id,
    csmId: params.csm.id,
    closedWonAt: params.closedWonAt,
    context: {
      goals: 'Weekly usage reports for leadership; replace the spreadsheet tracker by next quarter.',
      promises: 'SSO at launch and a named CSM for the first 90 days.',
      stakeholders: `Champion: head of operations. Economic buyer: CFO. Admin: IT lead at ${profile.domain ?? 'the customer'}.`,
      risks: step % 2 === 0 ? 'Security review not finished; legal asked for a DPA amendment.' : 'Small team; onboarding competes with their busy season.',
    },
    goLiveTarget: isoDay(new Date(now.getTime() + (30 + step * 7) * DAY_MS)),
    actor: integration,
    ...(params.renewalWindowDays !== undefined ? { renewalWindowDays: params.renewalWindowDays } : {}),
  });
  if (closed.kind !== 'new_customer') throw new Error(`${profile.name} was already a customer when the demo book closed it`);
  return closed.account;
}

/** The onboarding accounts came through closed-won: their handoffs are at every step, and one is overdue. */
async function seedHandoffs(db: Db, onboarding: DemoAccount[], now: Date): Promise<void> {
  const handoffs = await getLatestHandoffsByAccountIds(db, { accountIds: onboarding.map((demo) => demo.account.id), reader: systemReader });
  for (const [step, demo] of onboarding.entries()) {
    const handoff = handoffs.find((candidate) => candidate.accountId === demo.account.id);
    if (!handoff) throw new Error(`${demo.account.name} has no handoff: it was not closed-won`);
    // Step 0 stays pending (its SLA has passed: it is escalated), 1 is confirmed, 2 accepted, the rest have a kickoff.
    if (step === 0) continue;
    const confirmed = await confirmHandoff(db, { handoffId: handoff.id, actor: actorFromUser(demo.ae) });
    if (step === 1) continue;
    await acceptHandoff(db, { handoffId: confirmed.id, actor: actorFromUser(demo.csm) });
    if (step === 2) continue;
    await scheduleKickoff(db, { handoffId: confirmed.id, actor: actorFromUser(demo.csm), kickoffAt: new Date(now.getTime() + step * DAY_MS), now });
  }
}
