import { describe, expect, it } from 'vitest';
import type { Account, LifecycleStage, StageTransition, User } from '../db/schema.ts';
import { accountCard, accountChooser, helpMessage } from '../bot/views/account-card.ts';
import { defaultStages } from '../domain/lifecycle/stages.ts';
import { validateBlocks } from './support/block-kit.ts';
import { accountRow, healthRow } from './support/rows.ts';

const now = new Date('2026-11-25T12:00:00Z');

function account(overrides: Partial<Account> = {}): Account {
  return accountRow({ id: '3f0c1a52-8f7e-4a55-9a6e-1b2c3d4e5f60', domain: 'acme.example', version: 3, ...overrides });
}

const person = (name: string, slackUserId: string | null): User => ({ id: name, name, email: `${name}@x.test`, slackUserId, role: 'csm', managerId: null, createdAt: now });

describe('the account card', () => {
  it('shows stage and time in it, SLA overrun, ARR, owners as mentions, and renewal countdown', () => {
    const onboarding = defaultStages.find((stage) => stage.key === 'onboarding');
    if (!onboarding) throw new Error('no onboarding stage');
    const card = accountCard(
      { account: account(), stage: onboarding, csm: person('Sam', 'U1'), ae: person('Tom', null), health: null, lastTransition: null },
      { stages: defaultStages, choices: defaultStages, now },
    );
    const json = JSON.stringify(card.blocks);
    expect(json).toContain('Onboarding · 55 days :warning: over the 14-day SLA');
    expect(json).toContain('$240,000');
    expect(json).toContain('<@U1>');
    expect(json).toContain('*Account executive*\\nTom');
    expect(json).toContain('2027-01-31 (in 67 days)');
    expect(json).toContain('*Health*\\n_not computed yet_');
    expect(card.text).toBe('Acme Analytics: Onboarding for 55 days, health not computed yet, ARR $240,000, CSM Sam, renewal 2027-01-31');
    expect(validateBlocks(card.blocks, 'message')).toEqual([]);
  });

  it('shows the health score, its trend over the week and the top reasons, escaped', () => {
    const onboarding = defaultStages.find((stage) => stage.key === 'onboarding');
    if (!onboarding) throw new Error('no onboarding stage');
    const health = healthRow({
      score: 48,
      status: 'at_risk',
      scoreDayAgo: 50,
      scoreWeekAgo: 66,
      reasons: ['active users down 38% vs prior 4 weeks', '2 open urgent tickets, oldest 9 days', 'NPS 4 from the <champion>', 'a fourth reason'],
    });
    const card = accountCard({ account: account(), stage: onboarding, csm: null, ae: null, health, lastTransition: null }, { stages: defaultStages, choices: defaultStages, now });
    const json = JSON.stringify(card.blocks);
    expect(json).toContain('*Health*\\n:large_yellow_circle: At risk 48 (▼18 this week)');
    expect(json).toContain('active users down 38% vs prior 4 weeks · 2 open urgent tickets, oldest 9 days · NPS 4 from the &lt;champion&gt;');
    expect(json).not.toContain('a fourth reason');
    expect(card.text).toContain('health At risk 48');
    expect(validateBlocks(card.blocks, 'message')).toEqual([]);
  });

  it('says not enough data, with no score and no trend, for an account recomputed without customer signal', () => {
    const onboarding = defaultStages.find((stage) => stage.key === 'onboarding');
    if (!onboarding) throw new Error('no onboarding stage');
    const reason = 'not enough data for a score: no usage in the last 6 weeks, tickets, NPS/CSAT answers or CSM touches';
    const health = healthRow({ score: null, status: 'insufficient_data', scoreDayAgo: 70, scoreWeekAgo: 81, reasons: [reason] });
    const card = accountCard({ account: account(), stage: onboarding, csm: null, ae: null, health, lastTransition: null }, { stages: defaultStages, choices: defaultStages, now });
    const json = JSON.stringify(card.blocks);
    expect(json).toContain('*Health*\\n:white_circle: Not enough data"');
    expect(json).toContain(reason);
    expect(json).not.toContain('this week');
    expect(card.text).toContain('health Not enough data, ARR');
    expect(validateBlocks(card.blocks, 'message')).toEqual([]);
  });

  it('stays within Slack limits with 150 stages, huge names and a long reason, and escapes what people typed', () => {
    const stages: LifecycleStage[] = Array.from({ length: 150 }, (_, index) => ({
      key: `stage_${index}`,
      name: `Stage ${index} ${'x'.repeat(200)}`,
      position: index,
      ownerRole: 'csm',
      entryCriteria: '',
      exitCriteria: '',
      slaDays: 1,
      terminal: false,
    }));
    const current = stages[120];
    if (!current) throw new Error('no stage');
    const transition: StageTransition = {
      id: 1,
      accountId: 'a',
      fromStage: 'stage_1',
      toStage: current.key,
      direction: 'backward',
      actorId: null,
      actorLabel: '<!channel> & co',
      source: 'slack',
      reason: 'r'.repeat(5000),
      churnReasonKey: null,
      accountVersion: 2,
      occurredAt: now,
    };
    const card = accountCard(
      {
        account: account({ name: 'N'.repeat(400), stageKey: current.key }),
        stage: current,
        csm: null,
        ae: null,
        health: healthRow({ score: 12, status: 'critical', reasons: Array.from({ length: 9 }, () => 'q'.repeat(2000)) }),
        lastTransition: transition,
      },
      { stages, choices: stages, now, shareable: true },
    );
    expect(validateBlocks(card.blocks, 'message')).toEqual([]);
    expect(JSON.stringify(card.blocks)).toContain('&lt;!channel&gt; &amp; co');
    expect(JSON.stringify(card.blocks)).not.toContain('<!channel>');
    expect(card.text.length).toBeLessThanOrEqual(3000);
  });

  it('the chooser and help fit Slack limits with many long matches', () => {
    const matches = Array.from({ length: 60 }, (_, index) => account({ id: `id-${index}`, name: `Match ${index} ${'y'.repeat(3000)}` }));
    const chooser = accountChooser('y'.repeat(4000), matches);
    expect(validateBlocks(chooser.blocks, 'message')).toEqual([]);
    expect(chooser.text).toMatch(/^60 accounts match/);
    expect(validateBlocks(helpMessage('z'.repeat(5000)).blocks, 'message')).toEqual([]);
  });
});
