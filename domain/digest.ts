import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import {
  type AtRiskFollowUp,
  accountHealth,
  accounts,
  atRiskFollowUps,
  lifecycleStages,
  users,
} from '../db/schema.ts';
import { readableOwnerId } from './access.ts';
import { type Actor, systemReader } from './actors.ts';
import { type AtRiskItem, onAtRiskList, scoreDropSql } from './health/queries.ts';
import { healthReasons } from './health/words.ts';
import { allManagerIds, escalationManagers } from './escalations.ts';
import { type NotificationTarget, atRiskChannelTarget, userTarget } from './notifications.ts';
import { enqueueNotification } from './outbox.ts';
import { queueWebhookEvent } from './webhooks.ts';
import { ownersWithDueTasks } from './plays/tasks.ts';

/** An at-risk account as the digest shows it: its health, plus who acknowledged or snoozed it. */
export interface DigestItem extends AtRiskItem {
  followUp: (AtRiskFollowUp & { acknowledgedByName: string | null }) | null;
}

export interface ListDigestParams {
  /** Only this CSM's accounts. */
  csmId?: string | null;
  now: Date;
  /** Include accounts snoozed until after `now` (App Home shows them, the digest does not). */
  includeSnoozed?: boolean;
  /** Who is reading: an account executive sees only the accounts they sold; the digest job and delivery pass systemReader. */
  reader: Actor;
}

/** Accounts that need attention today, biggest drop first, then the lowest score. */
export async function listDigestItems(db: Db | Tx, params: ListDigestParams): Promise<DigestItem[]> {
  const aeId = readableOwnerId(params.reader);
  const acknowledger = users.id;
  const rows = await db
    .select({
      account: accounts,
      health: accountHealth,
      csm: users,
      followUp: atRiskFollowUps,
      drop: scoreDropSql,
    })
    .from(accountHealth)
    .innerJoin(accounts, eq(accounts.id, accountHealth.accountId))
    .innerJoin(lifecycleStages, eq(lifecycleStages.key, accounts.stageKey))
    .leftJoin(users, eq(acknowledger, accounts.csmId))
    .leftJoin(atRiskFollowUps, eq(atRiskFollowUps.accountId, accounts.id))
    .where(
      and(
        onAtRiskList,
        params.csmId ? eq(accounts.csmId, params.csmId) : undefined,
        aeId ? eq(accounts.aeId, aeId) : undefined,
        params.includeSnoozed ? undefined : or(isNull(atRiskFollowUps.snoozedUntil), lte(atRiskFollowUps.snoozedUntil, params.now)),
      ),
    )
    .orderBy(desc(scoreDropSql), asc(accountHealth.score), asc(accounts.name), asc(accounts.id));

  const acknowledgerIds = [...new Set(rows.map((row) => row.followUp?.acknowledgedBy).filter((id): id is string => typeof id === 'string'))];
  const names = new Map(
    acknowledgerIds.length === 0
      ? []
      : (await db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, acknowledgerIds))).map((user) => [user.id, user.name]),
  );
  return rows.flatMap(({ health, ...row }): DigestItem[] => {
    // Never without a score (the query above); checked again so the item's type says so.
    if (health.score === null || health.status === 'insufficient_data') return [];
    const followUp = row.followUp
      ? { ...row.followUp, acknowledgedByName: row.followUp.acknowledgedBy ? (names.get(row.followUp.acknowledgedBy) ?? null) : null }
      : null;
    return [
      {
        account: row.account,
        score: health.score,
        status: health.status,
        scoreDayAgo: health.scoreDayAgo,
        drop: Number(row.drop),
        reasons: healthReasons(health),
        renewalDate: row.account.contractEnd,
        csm: row.csm,
        followUp,
      },
    ];
  });
}

export function digestDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

export interface DigestPayload {
  day: string;
  /** Unset: the whole book, for the at-risk channel. */
  csmId?: string;
}

export interface DigestRun {
  items: number;
  channelDigests: number;
  csmDigests: number;
  escalated: number;
  [key: string]: number;
}

/**
 * The `digest` job: queues today's at-risk digest for the channel and one DM per CSM with listed accounts or person with tasks due,
 * and escalates to managers what was listed at a previous digest and still has not been acknowledged.
 * Dedupe keys are per channel or person and day, so running it twice in a day (a retry, a second replica)
 * queues nothing new.
 */
export async function queueDailyDigest(db: Db, params: { now: Date }): Promise<DigestRun> {
  const day = digestDay(params.now);
  return db.transaction(async (tx) => {
    const items = await listDigestItems(tx, { now: params.now, reader: systemReader });
    const run: DigestRun = { items: items.length, channelDigests: 0, csmDigests: 0, escalated: 0 };

    // Listed before today, still listed, nobody acknowledged it, not escalated yet.
    const overdue = items.filter(
      (item) => item.followUp && item.followUp.lastListedOn < day && item.followUp.acknowledgedAt === null && item.followUp.escalatedOn === null,
    );
    if (overdue.length > 0) {
      const accountIds = overdue.map((item) => item.account.id);
      // Each CSM's manager hears about their reports' accounts; the rest goes to every manager, or the channel.
      const everyManager = await allManagerIds(tx);
      const byTarget = new Map<NotificationTarget<'at_risk_escalation'>, string[]>();
      for (const item of overdue) {
        const managers = escalationManagers(item.csm, everyManager);
        const targets: NotificationTarget<'at_risk_escalation'>[] = managers.length > 0 ? managers.map(userTarget) : [atRiskChannelTarget];
        for (const target of targets) byTarget.set(target, [...(byTarget.get(target) ?? []), item.account.id]);
      }
      for (const [target, ids] of byTarget) {
        await enqueueNotification(tx, {
          kind: 'at_risk_escalation',
          dedupeKey: `at_risk_escalation:${target}:${day}`,
          target,
          payload: { day, accountIds: ids },
        });
      }
      await tx.update(atRiskFollowUps).set({ escalatedOn: day }).where(inArray(atRiskFollowUps.accountId, accountIds));
      run.escalated = overdue.length;
    }

    if (items.length > 0) {
      await tx
        .insert(atRiskFollowUps)
        .values(items.map((item) => ({ accountId: item.account.id, firstListedOn: day, lastListedOn: day })))
        .onConflictDoUpdate({ target: atRiskFollowUps.accountId, set: { lastListedOn: day } });
    }
    // An account that recovered starts afresh if it relapses: its old acknowledgement no longer says anything.
    await tx
      .delete(atRiskFollowUps)
      .where(and(lt(atRiskFollowUps.lastListedOn, day), or(isNull(atRiskFollowUps.snoozedUntil), lte(atRiskFollowUps.snoozedUntil, params.now))));

    if (items.length > 0) {
      const channelQueued = await enqueueNotification(tx, {
        kind: 'at_risk_digest',
        dedupeKey: `at_risk_digest:channel:${day}`,
        target: atRiskChannelTarget,
        payload: { day },
      });
      if (channelQueued) run.channelDigests += 1;
      await queueWebhookEvent(tx, {
        type: 'digest.at_risk',
        occasion: day,
        at: params.now,
        data: {
          day,
          accounts: items.map((item) => ({
            accountId: item.account.id,
            accountName: item.account.name,
            csmId: item.account.csmId,
            score: item.score,
            status: item.status,
            reason: item.reasons[0] ?? null,
          })),
        },
      });
    }
    // Each CSM with a listed account, and each person with a task due today or overdue, gets their morning DM.
    const taskOwners = await ownersWithDueTasks(tx, params.now);
    const csmIds = [...new Set([...items.map((item) => item.account.csmId).filter((id): id is string => id !== null), ...taskOwners])];
    for (const csmId of csmIds) {
      const queued = await enqueueNotification(tx, {
        kind: 'at_risk_digest',
        dedupeKey: `at_risk_digest:user:${csmId}:${day}`,
        target: userTarget(csmId),
        payload: { day, csmId },
      });
      if (queued) run.csmDigests += 1;
    }
    return run;
  });
}

/** Follow-ups snoozed past `now`, for people who want to see what they put aside. */
export function countSnoozed(db: Db, now: Date): Promise<number> {
  return db
    .select({ count: sql<number>`count(*)::int` })
    .from(atRiskFollowUps)
    .where(gt(atRiskFollowUps.snoozedUntil, now))
    .then((rows) => rows[0]?.count ?? 0);
}
