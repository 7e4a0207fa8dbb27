import { describe, expect, it } from 'vitest';
import { atRiskDigest, escalationMessage } from '../bot/views/digest.ts';
import { handoffContextModal, handoffMessage, handoffOverdueMessage } from '../bot/views/handoff.ts';
import { appHome, renewalsMessage } from '../bot/views/home.ts';
import { alertMessage, stageAuditNote } from '../bot/views/notifications.ts';
import { renewalMessage, renewalOutcomeModal } from '../bot/views/renewals.ts';
import { stageMoveModal } from '../bot/views/stage-move.ts';
import { type Account, type Handoff, type LifecycleStage, type User, renewalCallKinds } from '../db/schema.ts';
import type { Book } from '../domain/accounts/book.ts';
import type { DigestItem } from '../domain/digest.ts';
import { defaultStages } from '../domain/lifecycle/stages.ts';
import { validateBlocks, validateView } from './support/block-kit.ts';
import { accountRow, handoffRow, rowId } from './support/rows.ts';

// Every builder is fed inputs far beyond what a real book holds, and must still produce what Slack accepts.
const now = new Date('2026-11-25T12:00:00Z');
const huge = (label: string, length = 5000) => `${label} <!channel> & ${'x'.repeat(length)}`;

function account(index: number, overrides: Partial<Account> = {}): Account {
  return accountRow({
    id: rowId(index),
    name: huge(`Account ${index}`, 400),
    arrCents: 123_456_789_00,
    stageKey: defaultStages[index % defaultStages.length]?.key ?? 'onboarding',
    stageEnteredAt: new Date('2026-01-01T00:00:00Z'),
    ...overrides,
  });
}

const person: User = { id: 'p', name: huge('Person', 300), email: 'p@x.test', slackUserId: 'U0PERSON1', role: 'csm', managerId: null, createdAt: now };

function handoff(overrides: Partial<Handoff> = {}): Handoff {
  return handoffRow({
    goals: huge('Goals', 10_000),
    promises: huge('Promises', 10_000),
    stakeholders: huge('Stakeholders', 10_000),
    risks: huge('Risks', 10_000),
    notes: huge('Notes', 10_000),
    ...overrides,
  });
}

function digestItem(index: number): DigestItem {
  return {
    account: account(index),
    score: index % 70,
    status: index % 2 === 0 ? 'critical' : 'at_risk',
    scoreDayAgo: 90,
    drop: 90 - (index % 70),
    reasons: Array.from({ length: 10 }, (_, reason) => huge(`Reason ${reason}`, 1000)),
    renewalDate: '2027-01-31',
    csm: person,
    followUp: index % 3 === 0 ? { accountId: 'a', firstListedOn: '2026-11-20', lastListedOn: '2026-11-24', acknowledgedAt: now, acknowledgedBy: 'p', snoozedUntil: null, escalatedOn: null, acknowledgedByName: huge('Acker', 500) } : null,
  };
}

const manyStages: LifecycleStage[] = Array.from({ length: 150 }, (_, index) => ({
  key: `stage_${index}`,
  name: huge(`Stage ${index}`, 200),
  position: index,
  ownerRole: 'csm',
  entryCriteria: '',
  exitCriteria: '',
  slaDays: null,
  terminal: index === 149,
}));

function mrkdwnTexts(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(mrkdwnTexts);
  if (typeof value !== 'object' || value === null) return [];
  const own = Reflect.get(value, 'type') === 'mrkdwn' && typeof Reflect.get(value, 'text') === 'string' ? [String(Reflect.get(value, 'text'))] : [];
  return [...own, ...Object.values(value).flatMap(mrkdwnTexts)];
}

function expectFallback(text: string): void {
  expect(text.length).toBeGreaterThan(0);
  expect(text.length).toBeLessThanOrEqual(3000);
}

describe('Block Kit builders with large inputs', () => {
  it('the handoff message fits in every status, with 10,000-character context fields, and says what is next', () => {
    for (const status of ['pending', 'confirmed', 'accepted', 'kickoff_scheduled', 'completed'] as const) {
      const message = handoffMessage({
        handoff: handoff({ status, kickoffAt: status === 'kickoff_scheduled' ? now : null, kickoffScheduledAt: status === 'kickoff_scheduled' ? now : null }),
        account: account(1),
        ae: person,
        csm: null,
        confirmedBy: null,
        acceptedBy: null,
        now,
      });
      expect(validateBlocks(message.blocks, 'message')).toEqual([]);
      expectFallback(message.text);
      // What people typed is escaped wherever Slack reads mrkdwn (plain_text never pings anyone).
      expect(mrkdwnTexts(message.blocks).some((text) => text.includes('<!channel>'))).toBe(false);
      expect(mrkdwnTexts(message.blocks).some((text) => text.includes('&lt;!channel&gt;'))).toBe(true);
    }
    const overdue = handoffMessage({ handoff: handoff(), account: account(1), ae: person, csm: person, confirmedBy: null, acceptedBy: null, now });
    expect(overdue.text).toMatch(/SLA breached\.$/);
    expect(validateBlocks(handoffOverdueMessage({ handoff: handoff(), account: account(1), ae: person, csm: person, confirmedBy: null, acceptedBy: null, now }).blocks, 'message')).toEqual([]);
  });

  it('the handoff context modal fits with huge existing context', () => {
    expect(validateView(handoffContextModal(handoff(), huge('Name', 3000), JSON.stringify({ handoffId: 'x' })))).toEqual([]);
  });

  it('the stage move modal fits with 150 stages and long names, with and without a chosen stage', () => {
    const target = manyStages[149];
    const modal = stageMoveModal({ account: account(2, { stageKey: 'stage_3' }), stages: manyStages, toStage: target, reasonRequired: true, privateMetadata: '{}' });
    expect(validateView(modal)).toEqual([]);
    expect(validateView(stageMoveModal({ account: account(2, { stageKey: 'stage_3' }), stages: manyStages, reasonRequired: false, privateMetadata: '{}' }))).toEqual([]);
  });

  it('the at-risk digest fits on its first, middle and last page with 300 accounts and ten long reasons each', () => {
    const items = Array.from({ length: 300 }, (_, index) => digestItem(index));
    for (const page of [0, 14, 29, 99]) {
      const message = atRiskDigest(items, { day: '2026-11-25', now, page });
      expect(validateBlocks(message.blocks, 'message')).toEqual([]);
      expectFallback(message.text);
    }
    const empty = atRiskDigest([], { day: '2026-11-25', now });
    expect(empty.text).toBe('At-risk digest 2026-11-25: no account needs attention today.');
    expect(validateBlocks(empty.blocks, 'message')).toEqual([]);
  });

  it('the escalation fits with 500 accounts', () => {
    const accounts = Array.from({ length: 500 }, (_, index) => ({ name: huge(`Escalated ${index}`, 300), csmName: huge('CSM', 200), status: 'critical' as const, score: 10, firstListedOn: '2026-11-20' }));
    const message = escalationMessage(accounts, '2026-11-25');
    expect(validateBlocks(message.blocks, 'message')).toEqual([]);
    expectFallback(message.text);
  });

  it('alerts, renewal checkpoints and audit notes fit with 5,000-character reasons, and say why', () => {
    for (const rule of ['health_worsened', 'usage_drop', 'expansion_signal', 'sla_breach', 'stage_sla', 'some_new_rule']) {
      for (const audience of ['owner', 'channel'] as const) {
        const message = alertMessage({ account: account(3), rule, reason: huge('reason', 5000), owner: person, audience });
        expect(validateBlocks(message.blocks, 'message')).toEqual([]);
        expectFallback(message.text);
        expect(JSON.stringify(message.blocks)).toMatch(/You get this because|Posted here/);
      }
    }
    const calls = Array.from({ length: 12 }, (_, index) => ({ call: renewalCallKinds[index % 4] ?? 'commit', note: huge('note', 2000), calledByLabel: huge('Caller', 300), calledAt: now }));
    const renewal = renewalMessage({ account: account(4), renewal: { id: rowId(900), contractEnd: '2026-12-25', status: 'open' }, calls, outcome: null, reason: huge('renewal', 5000), now });
    expect(validateBlocks(renewal.blocks, 'message')).toEqual([]);
    expectFallback(renewal.text);
    const outcomeModal = renewalOutcomeModal({
      renewal: { id: rowId(900), contractEnd: '2026-12-25' },
      account: account(5),
      churnReasons: Array.from({ length: 150 }, (_, index) => ({ key: `reason_${index}`, label: huge('Reason', 200) })),
      privateMetadata: '{}',
    });
    expect(validateView(outcomeModal)).toEqual([]);
    const note = stageAuditNote({
      accountName: huge('Account', 3000),
      transition: { direction: 'backward', actorLabel: huge('Actor', 500), reason: huge('why', 5000), occurredAt: now },
      actor: null,
      fromName: huge('From', 500),
      toName: huge('To', 500),
    });
    expect(validateBlocks(note.blocks, 'message')).toEqual([]);
    expectFallback(note.text);
  });

  it('App Home fits 100 blocks with 500 accounts over 150 stages, 200 handoffs, 300 renewals and 300 at-risk items', () => {
    const accounts = Array.from({ length: 500 }, (_, index) => ({
      account: account(index, { stageKey: `stage_${index % 150}` }),
      health: { accountId: 'a', score: 50, status: 'at_risk' as const, scoreDayAgo: 60, scoreWeekAgo: 70, reasons: [], components: null, computedAt: now, modelVersion: 1, note: null, facts: null, scoreDayAgoFrom: null, scoreDayAgoUntil: null, scoreWeekAgoFrom: null, scoreWeekAgoUntil: null },
    }));
    const book: Book = {
      accounts,
      handoffsWaiting: Array.from({ length: 200 }, (_, index) => ({ ...handoff({ status: index % 2 === 0 ? 'pending' : 'confirmed' }), accountName: huge('Handoff', 300) })),
      renewals: Array.from({ length: 300 }, (_, index) => account(index)),
      atRisk: Array.from({ length: 300 }, (_, index) => digestItem(index)),
    };
    const home = appHome({ user: person, book, stages: manyStages, now, renewalWindowDays: 90 });
    expect(validateView(home)).toEqual([]);
    const empty = appHome({ user: person, book: { accounts: [], handoffsWaiting: [], renewals: [], atRisk: [] }, stages: defaultStages, now, renewalWindowDays: 90 });
    expect(validateView(empty)).toEqual([]);
    expect(JSON.stringify(empty)).toContain('No accounts are assigned to you yet.');
  });

  it('App Home shows an account without a score as not enough data, apart from one never computed', () => {
    const stages = defaultStages;
    const noSignal = { accountId: 'a', score: null, status: 'insufficient_data' as const, scoreDayAgo: 60, scoreWeekAgo: 70, reasons: [], components: null, computedAt: now, modelVersion: 1, note: null, facts: null, scoreDayAgoFrom: null, scoreDayAgoUntil: null, scoreWeekAgoFrom: null, scoreWeekAgoUntil: null };
    const book: Book = {
      accounts: [
        { account: account(1, { name: 'Quiet Co', stageKey: 'onboarding' }), health: noSignal },
        { account: account(2, { name: 'Fresh Co', stageKey: 'onboarding' }), health: null },
      ],
      handoffsWaiting: [],
      renewals: [],
      atRisk: [],
    };
    const home = appHome({ user: person, book, stages, now, renewalWindowDays: 90 });
    expect(validateView(home)).toEqual([]);
    const json = JSON.stringify(home);
    expect(json).toContain('Quiet Co · :white_circle: Not enough data\\n');
    expect(json).toContain('Fresh Co · _no health score yet_');
  });

  it('the renewals answer fits with 500 renewals', () => {
    const message = renewalsMessage(Array.from({ length: 500 }, (_, index) => account(index)), now, 90);
    expect(validateBlocks(message.blocks, 'message')).toEqual([]);
    expectFallback(message.text);
    expect(renewalsMessage([], now, 90).text).toBe('None of your accounts renews in the next 90 days.');
  });
});

describe('the handoff message says who acted', () => {
  const tom: User = { id: 'ae', name: 'Tom Becker', email: 'tom@x.test', slackUserId: 'UAE00001', role: 'ae', managerId: null, createdAt: now };
  const sam: User = { id: 'csm', name: 'Sam Okafor', email: 'sam@x.test', slackUserId: 'UCSM0001', role: 'csm', managerId: null, createdAt: now };
  const maya: User = { id: 'mgr', name: 'Maya Patel', email: 'maya@x.test', slackUserId: 'UMGR0001', role: 'manager', managerId: null, createdAt: now };
  const shortAccount = account(1, { name: 'Northwind Traders' });

  it('a manager who confirmed and accepted for the AE and the CSM is named with whom they acted for', () => {
    const message = handoffMessage({
      handoff: handoff({ status: 'accepted', confirmedAt: now, confirmedBy: maya.id, acceptedAt: now, acceptedBy: maya.id }),
      account: shortAccount,
      ae: tom,
      csm: sam,
      confirmedBy: maya,
      acceptedBy: maya,
      now,
    });
    const json = JSON.stringify(message.blocks);
    expect(json).toContain('Confirmed by <@UMGR0001> for <@UAE00001>');
    expect(json).toContain('Accepted by <@UMGR0001> for <@UCSM0001>');
    expect(message.text).toContain('Confirmed by Maya Patel for Tom Becker. Accepted by Maya Patel for Sam Okafor.');
    expect(validateBlocks(message.blocks, 'message')).toEqual([]);
  });

  it('an AE and a CSM who acted themselves are named plainly', () => {
    const message = handoffMessage({
      handoff: handoff({ status: 'accepted', confirmedAt: now, confirmedBy: tom.id, acceptedAt: now, acceptedBy: sam.id }),
      account: shortAccount,
      ae: tom,
      csm: sam,
      confirmedBy: tom,
      acceptedBy: sam,
      now,
    });
    const json = JSON.stringify(message.blocks);
    expect(json).toContain('Confirmed by <@UAE00001>');
    expect(json).toContain('Accepted by <@UCSM0001>');
    expect(json).not.toContain(' for <@');
    expect(message.text).toContain('Confirmed by Tom Becker. Accepted by Sam Okafor.');
  });
});
