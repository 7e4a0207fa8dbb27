import type { Db } from '../db/client.ts';
import type { OutboxRow } from '../db/schema.ts';
import { getAccount } from '../domain/accounts/reads.ts';
import { systemReader } from '../domain/actors.ts';
import { listDigestItems } from '../domain/digest.ts';
import { getHandoff } from '../domain/handoffs/handoffs.ts';
import { listTransitions } from '../domain/lifecycle/moves.ts';
import { listStages } from '../domain/lifecycle/stages.ts';
import { type Notification, decodeNotification, isNotificationKind, parseNotificationTarget } from '../domain/notifications.ts';
import { type TaskItem, getTask, isOverdue, taskState } from '../domain/plays/tasks.ts';
import { getUsersByIds } from '../domain/users.ts';
import { loadDueTasks } from './task-lists.ts';
import { taskNote } from './task-notes.ts';
import { type NotificationRenderer, type RenderedNotification, UndeliverableError } from './delivery.ts';
import { atRiskDigest, escalationMessage } from './views/digest.ts';
import { handoffMessage, handoffOverdueMessage, type HandoffView } from './views/handoff.ts';
import { listChurnReasons } from '../domain/churn-reasons.ts';
import { alertMessage, stageAuditNote } from './views/notifications.ts';
import { renewalMessage } from './views/renewals.ts';
import { type LeadView, leadMessage, leadOutcomeMessage } from './views/leads.ts';
import { getLead } from '../domain/leads.ts';
import { getRenewalDesk } from '../domain/renewals/queries.ts';
import { NotFoundError } from '../domain/errors.ts';

/** The row decoded with the same contract domain enqueued it with; what cannot be decoded is parked. */
function decode(row: OutboxRow): Notification {
  if (!isNotificationKind(row.kind)) throw new UndeliverableError(`Lifeline does not know how to show a "${row.kind}" notification.`);
  const decoded = decodeNotification(row);
  if (!decoded.ok) throw new UndeliverableError(decoded.error);
  return decoded.notification;
}

// Delivery reads as systemReader: who may see a notification was decided when domain queued it for its target.
async function requireAccount(db: Db, accountId: string) {
  const account = await getAccount(db, { id: accountId, reader: systemReader });
  if (!account) throw new UndeliverableError(`Account ${accountId} no longer exists.`);
  return account;
}

async function requireTask(db: Db, taskId: string): Promise<TaskItem> {
  const item = await getTask(db, { id: taskId, reader: systemReader });
  if (!item) throw new UndeliverableError(`Task ${taskId} no longer exists.`);
  return item;
}

async function handoffView(db: Db, handoffId: string, now: Date): Promise<HandoffView> {
  const handoff = await getHandoff(db, { id: handoffId, reader: systemReader });
  if (!handoff) throw new UndeliverableError(`Handoff ${handoffId} no longer exists.`);
  const account = await requireAccount(db, handoff.accountId);
  // The owners and whoever acted for them (a manager may confirm or accept in their place), in one query.
  const ids = [handoff.aeId, handoff.csmId, handoff.confirmedBy, handoff.acceptedBy].filter((id): id is string => id !== null);
  const people = await getUsersByIds(db, [...new Set(ids)]);
  const find = (id: string | null) => people.find((person) => person.id === id) ?? null;
  return {
    handoff,
    account,
    ae: find(handoff.aeId),
    csm: find(handoff.csmId),
    confirmedBy: find(handoff.confirmedBy),
    acceptedBy: find(handoff.acceptedBy),
    now,
  };
}

async function leadView(db: Db, leadId: string): Promise<LeadView> {
  const lead = await getLead(db, { id: leadId, reader: systemReader });
  if (!lead) throw new UndeliverableError(`Lead ${leadId} no longer exists.`);
  const account = await requireAccount(db, lead.accountId);
  const ids = [lead.createdBy, lead.aeId].filter((id): id is string => id !== null);
  const people = await getUsersByIds(db, [...new Set(ids)]);
  const find = (id: string | null) => people.find((person) => person.id === id) ?? null;
  return { lead, account, qualifiedBy: find(lead.createdBy), ae: find(lead.aeId) };
}

/** Takes `never`: a kind added to the contract without a case in the renderer below fails typecheck here. */
function unrendered(notification: never, kind: string): never {
  throw new UndeliverableError(`Lifeline does not know how to show a "${kind}" notification.`);
}

/**
 * Renders each kind of notification from the database as it is at delivery time, so a handoff update that
 * was queued twice still shows the latest state, and a digest shows who already acknowledged what.
 */
export function createNotificationRenderer(db: Db, clock: () => Date = () => new Date()): NotificationRenderer {
  return async (row): Promise<RenderedNotification> => {
    const now = clock();
    const notification = decode(row);
    switch (notification.kind) {
      case 'handoff': {
        const view = await handoffView(db, notification.payload.handoffId, now);
        // The handoff message is the account's thread (unless a note started one first): audit notes go under it.
        return { message: handoffMessage(view), startsThread: `account:${view.account.id}` };
      }
      case 'handoff_overdue': {
        return { message: handoffOverdueMessage(await handoffView(db, notification.payload.handoffId, now)) };
      }
      case 'alert': {
        const { payload } = notification;
        const account = await requireAccount(db, payload.accountId);
        const [owner] = account.csmId ? await getUsersByIds(db, [account.csmId]) : [];
        const audience = parseNotificationTarget(row.target)?.form === 'user' ? 'owner' : 'channel';
        return { message: alertMessage({ account, rule: payload.rule, reason: payload.reason, owner: owner ?? null, audience, firingId: payload.firingId ?? null }) };
      }
      case 'renewal_checkpoint': {
        const { payload } = notification;
        const desk = await getRenewalDesk(db, { renewalId: payload.renewalId, reader: systemReader }).catch((error: unknown) => {
          if (error instanceof NotFoundError) throw new UndeliverableError(`Renewal ${payload.renewalId} no longer exists.`);
          throw error;
        });
        const reasons = desk.outcome?.churnReasonKey ? await listChurnReasons(db, { reader: systemReader, includeRetired: true }) : [];
        const churnReasonLabel = reasons.find((reason) => reason.key === desk.outcome?.churnReasonKey)?.label ?? null;
        return { message: renewalMessage({ ...desk, churnReasonLabel, reason: payload.reason, now }) };
      }
      case 'at_risk_digest': {
        const { payload } = notification;
        // A person's morning DM lists their tasks due today and overdue beside their accounts; the channel's has none.
        const [items, tasks] = await Promise.all([
          listDigestItems(db, { now, csmId: payload.csmId ?? null, reader: systemReader }),
          payload.csmId ? loadDueTasks(db, { reader: systemReader, ownerId: payload.csmId, now }) : undefined,
        ]);
        return { message: atRiskDigest(items, { day: payload.day, now, csmId: payload.csmId ?? null, tasks: tasks && tasks.total > 0 ? tasks : undefined }) };
      }
      case 'task_assigned': {
        const item = await requireTask(db, notification.payload.taskId);
        const target = parseNotificationTarget(row.target);
        const ownerId = target?.form === 'user' ? target.userId : null;
        if (ownerId !== item.task.ownerId) {
          throw new UndeliverableError(`“${item.task.title}” was given to someone else again before this note was delivered; they get their own.`);
        }
        const state = taskState(item.task, now);
        if (state === 'done' || state === 'cancelled') throw new UndeliverableError(`“${item.task.title}” was ${state} before this note was delivered; nothing to say.`);
        return { message: await taskNote(db, { item, kind: 'assigned', now, reader: systemReader, viewerId: ownerId }) };
      }
      case 'task_overdue': {
        const item = await requireTask(db, notification.payload.taskId);
        if (!isOverdue(item.task, now)) throw new UndeliverableError(`“${item.task.title}” is no longer overdue (done, snoozed or cancelled before delivery); nothing to say.`);
        const target = parseNotificationTarget(row.target);
        return { message: await taskNote(db, { item, kind: 'overdue', now, reader: systemReader, viewerId: target?.form === 'user' ? target.userId : null }) };
      }
      case 'at_risk_escalation': {
        const { payload } = notification;
        const wanted = new Set(payload.accountIds);
        const items = (await listDigestItems(db, { now, includeSnoozed: true, reader: systemReader })).filter((item) => wanted.has(item.account.id));
        const accounts = items.map((item) => ({
          name: item.account.name,
          csmName: item.csm?.name ?? null,
          status: item.status,
          score: item.score,
          firstListedOn: item.followUp?.firstListedOn ?? payload.day,
        }));
        if (accounts.length === 0) throw new UndeliverableError('Every escalated account recovered or was acknowledged before delivery; nothing to say.');
        return { message: escalationMessage(accounts, payload.day) };
      }
      case 'stage_audit': {
        const { payload } = notification;
        const account = await requireAccount(db, payload.accountId);
        const [transitions, stages] = await Promise.all([listTransitions(db, { accountId: account.id, reader: systemReader, limit: 200 }), listStages(db, { reader: systemReader })]);
        const transition = transitions.find((candidate) => candidate.id === payload.transitionId);
        if (!transition) throw new UndeliverableError(`Stage transition ${payload.transitionId} of ${account.name} is missing.`);
        const [actor] = transition.actorId ? await getUsersByIds(db, [transition.actorId]) : [];
        const name = (key: string | null) => stages.find((stage) => stage.key === key)?.name ?? key ?? 'nowhere';
        const churnReasonLabel = transition.churnReasonKey
          ? ((await listChurnReasons(db, { reader: systemReader, includeRetired: true })).find((reason) => reason.key === transition.churnReasonKey)?.label ?? transition.churnReasonKey)
          : null;
        return {
          message: stageAuditNote({ accountName: account.name, transition, actor: actor ?? null, fromName: name(transition.fromStage), toName: name(transition.toStage), churnReasonLabel }),
          threadKey: `account:${account.id}`,
        };
      }
      case 'lead_handed':
        return { message: leadMessage(await leadView(db, notification.payload.leadId)) };
      case 'lead_outcome':
        return { message: leadOutcomeMessage(await leadView(db, notification.payload.leadId)) };
      case 'webhook':
        // Webhook events are sent by bot/webhooks.ts, never rendered for Slack.
        throw new UndeliverableError('A webhook event is not a Slack message.');
      default:
        return unrendered(notification, row.kind);
    }
  };
}
