import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { outbox } from '../db/schema.ts';
import type { Actor } from '../domain/actors.ts';
import { queueDailyDigest } from '../domain/digest.ts';
import { queueOverdueHandoffs } from '../domain/escalations.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { moveAccountStage } from '../domain/lifecycle/moves.ts';
import {
  NotificationContractError,
  decodeNotification,
  handoffChannelTarget,
  notificationKinds,
  parseNotificationTarget,
  userTarget,
} from '../domain/notifications.ts';
import { type EnqueueNotificationParams, enqueueNotification } from '../domain/outbox.ts';
import { runRenewals } from '../domain/renewals/checkpoints.ts';
import { runRules } from '../domain/rules.ts';
import { DAY_MS, isoDay } from '../domain/dates.ts';
import { createTask, queueOverdueTasks } from '../domain/plays/tasks.ts';
import { acceptLead, qualifyLead } from '../domain/leads.ts';
import { webhookEventTypeNames } from '../domain/webhook-events.ts';
import { createWebhookEndpoint } from '../domain/webhooks.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { addTicket } from './support/signals.ts';
import { createAccount, createUser } from './support/factories.ts';

const NOW = new Date();
const admin: Actor = { userId: null, role: 'admin', label: 'Contract test' };

const database = useTestDatabase();

describe('the notification contract', () => {
  it('decodes every notification the domain queues, of every kind, to a target delivery understands', async () => {
    const { db } = database;
    await createUser(db, { role: 'manager', name: 'Mara Manager' });
    const csm = await createUser(db, { role: 'csm', name: 'Cole Csm' });
    // An endpoint subscribed to every event: each producer's webhook events are decoded below too.
    await createWebhookEndpoint(db, { url: 'https://hooks.example.test/contract', eventTypes: [...webhookEventTypeNames], actor: admin });

    // A deal whose handoff nobody confirmed within its SLA: handoff, handoff_overdue and the handoff_sla alert.
    const deal = await recordClosedWon(db, {
      opportunityId: 'opp-contract',
      account: { externalId: 'crm-contract', name: 'Contract Co', segment: 'smb', arrCents: 1_200_000 },
      csmId: csm.id,
      closedWonAt: new Date(NOW.getTime() - 10 * DAY_MS),
      context: { goals: 'Go live', promises: null, stakeholders: null, risks: null },
      actor: { userId: null, role: 'integration', label: 'CRM' },
    });
    if (!deal.handoff) throw new Error('the deal was recorded as an existing customer’s: no handoff');
    await queueOverdueHandoffs(db, { now: NOW });
    await runRules(db, { now: NOW });

    // A renewal inside its window with poor health: renewal_checkpoint and the renewal_at_risk alert.
    const shaky = await createAccount(db, { name: 'Shaky Co', stageKey: 'mature_adoption', csmId: csm.id, contractEnd: isoDay(new Date(NOW.getTime() + 40 * DAY_MS)) });
    await addTicket(db, shaky.id, NOW, { severity: 'urgent', openedDaysAgo: 5 });
    await recomputeHealth(db, { now: NOW, accountIds: [shaky.id] });
    await runRenewals(db, { now: NOW });

    // The digest two days running without anyone acknowledging: at_risk_digest, then at_risk_escalation.
    await queueDailyDigest(db, { now: NOW });
    await queueDailyDigest(db, { now: new Date(NOW.getTime() + DAY_MS) });

    // A person moving a stage: stage_audit.
    await moveAccountStage(db, { accountId: shaky.id, toStage: 'early_adoption', expectedVersion: shaky.version, actor: admin, source: 'api', reason: 'Back to basics' });

    // A task given to someone (task_assigned) that then runs overdue (task_overdue).
    const weekAgo = new Date(NOW.getTime() - 7 * DAY_MS);
    await createTask(db, { accountId: shaky.id, title: 'Call the champion', dueOn: isoDay(weekAgo), ownerId: csm.id, actor: admin, now: weekAgo });
    await queueOverdueTasks(db, { now: NOW });

    // An expansion lead handed to the AE (lead_handed), accepted, which the CSM hears about (lead_outcome).
    const ae = await createUser(db, { role: 'ae', name: 'Ada Ae' });
    const grower = await createAccount(db, { name: 'Grower Co', stageKey: 'mature_adoption', csmId: csm.id, aeId: ae.id });
    const { lead } = await qualifyLead(db, { accountId: grower.id, wants: 'More seats', estimatedMrrCents: 50_000, urgency: 'medium', actor: { userId: csm.id, role: 'csm', label: 'Cole Csm' } });
    await acceptLead(db, { leadId: lead.id, actor: { userId: ae.id, role: 'ae', label: 'Ada Ae' } });

    const rows = await db.select().from(outbox);
    for (const row of rows) {
      expect({ row: row.dedupeKey, decoded: decodeNotification(row) }).toMatchObject({ decoded: { ok: true } });
      expect({ row: row.dedupeKey, target: parseNotificationTarget(row.target) }).not.toMatchObject({ target: null });
    }
    // Every kind was exercised, so a producer of any kind writing outside its schema fails here.
    expect(new Set(rows.map((row) => row.kind))).toEqual(new Set(notificationKinds));
    // And every webhook event type this book gives occasion to (a health status change needs a second recompute).
    const eventTypes = new Set(rows.filter((row) => row.kind === 'webhook').map((row) => String(row.payload.type)));
    expect(eventTypes).toEqual(new Set(['account.stage_moved', 'handoff.step', 'renewal.opened', 'digest.at_risk', 'task.created']));
  });

  it('refuses a malformed payload when it is queued, naming the kind and the field, and writes nothing', async () => {
    const { db } = database;
    const before = await db.select().from(outbox);
    const malformed: EnqueueNotificationParams = {
      kind: 'stage_audit',
      dedupeKey: 'contract:malformed',
      target: handoffChannelTarget,
      // @ts-expect-error A transition id is a number: the contract's types refuse this before it runs.
      payload: { accountId: 'a4c1f1de-8c43-4d6e-9d0b-7a1f3f6c2b10', transitionId: 'seven' },
    };
    await expect(enqueueNotification(db, malformed)).rejects.toThrowError(NotificationContractError);
    await expect(enqueueNotification(db, malformed)).rejects.toThrowError(/^The stage_audit notification has a malformed payload: transitionId: /);
    expect(await db.select().from(outbox)).toHaveLength(before.length);
  });

  it('refuses a kind queued to a target it never goes to', async () => {
    const { db } = database;
    const manager = await createUser(db, { role: 'manager' });
    // @ts-expect-error A handoff message is the account's thread: it goes to the handoff channel only.
    const misdirected: EnqueueNotificationParams = {
      kind: 'handoff',
      dedupeKey: 'contract:misdirected',
      target: userTarget(manager.id),
      payload: { handoffId: 'a4c1f1de-8c43-4d6e-9d0b-7a1f3f6c2b10' },
    };
    await expect(enqueueNotification(db, misdirected)).rejects.toThrowError(`A handoff notification cannot go to "user:${manager.id}": it goes to channel:handoffs.`);
  });

  it('keeps the handoff and at-risk channel targets written in the contract module alone', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    // Tests spell targets out to check what was stored; migrations are history.
    const skipped = new Set(['node_modules', 'test', join('db', 'migrations')]);
    const sources: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        const path = join(folder, entry.name);
        if (entry.name.startsWith('.') || skipped.has(relative(root, path))) continue;
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && entry.name.endsWith('.ts')) sources.push(path);
      }
    };
    await walk(root);
    expect(sources.map((path) => relative(root, path))).toContain(join('domain', 'notifications.ts'));

    const spelled: string[] = [];
    for (const path of sources) {
      if (relative(root, path) === join('domain', 'notifications.ts')) continue;
      const text = await readFile(path, 'utf8');
      for (const target of ['channel:handoffs', 'channel:at_risk']) if (text.includes(target)) spelled.push(`${relative(root, path)}: ${target}`);
    }
    expect(spelled).toEqual([]);
  });
});
