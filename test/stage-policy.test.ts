import { asc, eq, like } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Account, LifecycleStage } from '../db/schema.ts';
import { outbox, stageTransitions } from '../db/schema.ts';
import { type Actor, actorFromUser, ruleActor } from '../domain/actors.ts';
import { ForbiddenError } from '../domain/errors.ts';
import { moveAccountStage, previewStageMove, ReasonRequiredError } from '../domain/lifecycle/moves.ts';
import { canMoveAccount, moveNeedsReason, nextStage, requireMoveRights, stageChoices } from '../domain/lifecycle/policy.ts';
import { defaultStages } from '../domain/lifecycle/stages.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';

const CSM_ID = '00000000-0000-4000-8000-0000000000c1';
const AE_ID = '00000000-0000-4000-8000-0000000000a1';
const OTHER_ID = '00000000-0000-4000-8000-0000000000f1';

const people: Record<string, Actor> = {
  admin: { userId: OTHER_ID, role: 'admin', label: 'Alex Admin' },
  manager: { userId: OTHER_ID, role: 'manager', label: 'Maya Manager' },
  'its CSM': { userId: CSM_ID, role: 'csm', label: 'Sam CSM' },
  'another CSM': { userId: OTHER_ID, role: 'csm', label: 'Lena CSM' },
  'its AE': { userId: AE_ID, role: 'ae', label: 'Tom AE' },
  'another AE': { userId: OTHER_ID, role: 'ae', label: 'Grace AE' },
  viewer: { userId: OTHER_ID, role: 'viewer', label: 'Jo Viewer' },
  integration: { userId: null, role: 'integration', label: 'CRM sync' },
  'a rule': ruleActor('first_value', 'Rule: first value reached'),
};

function owned(stageKey: string): Pick<Account, 'name' | 'csmId' | 'aeId' | 'stageKey'> {
  return { name: 'Acme', csmId: CSM_ID, aeId: AE_ID, stageKey };
}

describe('the stage-move policy', () => {
  it.each([
    // Account executives: their own account, out of Pre-onboarding, one step forward, nothing else.
    ['its AE', 'pre_onboarding', 'onboarding', true],
    ['its AE', 'pre_onboarding', 'implementation', false],
    ['its AE', 'pre_onboarding', 'mature_adoption', false],
    ['its AE', 'pre_onboarding', 'churned', false],
    ['its AE', 'onboarding', 'implementation', false],
    ['its AE', 'onboarding', 'pre_onboarding', false],
    ['another AE', 'pre_onboarding', 'onboarding', false],
    // CSMs: their own accounts, one step forward, any number of steps back, or to Churned.
    ['its CSM', 'onboarding', 'implementation', true],
    ['its CSM', 'onboarding', 'early_adoption', false],
    ['its CSM', 'pre_onboarding', 'mature_adoption', false],
    ['its CSM', 'mature_adoption', 'pre_onboarding', true],
    ['its CSM', 'early_adoption', 'implementation', true],
    ['its CSM', 'onboarding', 'churned', true],
    ['its CSM', 'churned', 'mature_adoption', true],
    ['another CSM', 'onboarding', 'implementation', false],
    // Managers and admins: any move.
    ['manager', 'pre_onboarding', 'mature_adoption', true],
    ['manager', 'churned', 'onboarding', true],
    ['admin', 'onboarding', 'churned', true],
    ['admin', 'implementation', 'mature_adoption', true],
    // Rules: one step forward, whatever role they run under.
    ['a rule', 'implementation', 'early_adoption', true],
    ['a rule', 'implementation', 'mature_adoption', false],
    ['a rule', 'early_adoption', 'implementation', false],
    ['a rule', 'mature_adoption', 'churned', false],
    ['viewer', 'onboarding', 'implementation', false],
    ['integration', 'onboarding', 'implementation', false],
  ] as const)('%s moving an account from %s to %s: allowed=%s', (who, from, to, allowed) => {
    const actor = people[who];
    if (!actor) throw new Error(`no actor ${who}`);
    expect(canMoveAccount(actor, owned(from), to, defaultStages)).toBe(allowed);
    const check = () => requireMoveRights(actor, owned(from), { toStage: to, stages: defaultStages });
    if (allowed) expect(check).not.toThrow();
    else expect(check).toThrow(ForbiddenError);
  });

  it('offers each person exactly the stages they may move the account to', () => {
    const choices = (who: string, from: string) => {
      const actor = people[who];
      if (!actor) throw new Error(`no actor ${who}`);
      return stageChoices(actor, owned(from), defaultStages).map((stage) => stage.key);
    };
    expect(choices('its AE', 'pre_onboarding')).toEqual(['onboarding']);
    expect(choices('its AE', 'onboarding')).toEqual([]);
    expect(choices('its CSM', 'implementation')).toEqual(['pre_onboarding', 'onboarding', 'early_adoption', 'churned']);
    expect(choices('its CSM', 'mature_adoption')).toEqual(['pre_onboarding', 'onboarding', 'implementation', 'early_adoption', 'churned']);
    expect(choices('a rule', 'implementation')).toEqual(['early_adoption']);
    expect(choices('manager', 'onboarding')).toEqual(['pre_onboarding', 'implementation', 'early_adoption', 'mature_adoption', 'churned']);
    expect(choices('viewer', 'onboarding')).toEqual([]);
  });

  it('one step forward is the next stage by position that is not terminal, wherever a terminal stage sits', () => {
    const stages: LifecycleStage[] = [
      ...defaultStages.filter((stage) => stage.key !== 'churned'),
      { ...defaultStages[0], key: 'paused', name: 'Paused', position: 35, terminal: true } as LifecycleStage,
      { ...defaultStages[0], key: 'churned', name: 'Churned', position: 90, terminal: true } as LifecycleStage,
    ];
    expect(nextStage(stages, 'implementation')?.key).toBe('early_adoption');
    expect(nextStage(stages, 'mature_adoption')).toBeUndefined();
    expect(nextStage(stages, 'churned')).toBeUndefined();
    const csm = people['its CSM'];
    if (!csm) throw new Error('no CSM');
    expect(canMoveAccount(csm, owned('implementation'), 'paused', stages)).toBe(true);
    expect(moveNeedsReason(stages, 'implementation', 'paused')).toBe(true);
  });

  it('a move backward or to Churned needs a reason; a move forward does not', () => {
    expect(moveNeedsReason(defaultStages, 'early_adoption', 'onboarding')).toBe(true);
    expect(moveNeedsReason(defaultStages, 'onboarding', 'churned')).toBe(true);
    expect(moveNeedsReason(defaultStages, 'churned', 'mature_adoption')).toBe(true);
    expect(moveNeedsReason(defaultStages, 'onboarding', 'mature_adoption')).toBe(false);
  });

  it('a refused move names what the person may do instead', () => {
    const refusal = (who: string, from: string, to: string) => {
      const actor = people[who];
      if (!actor) throw new Error(`no actor ${who}`);
      try {
        requireMoveRights(actor, owned(from), { toStage: to, stages: defaultStages });
      } catch (error) {
        return error instanceof ForbiddenError ? error.message : String(error);
      }
      return 'allowed';
    };
    expect(refusal('its AE', 'pre_onboarding', 'mature_adoption')).toBe(
      'Account executives may move their own accounts only from Pre-onboarding one step forward (to Onboarding), so Acme cannot go to Mature adoption. ' +
        'Move it to Onboarding, or ask its CSM or a manager to make this move.',
    );
    expect(refusal('its CSM', 'onboarding', 'mature_adoption')).toBe(
      'As its CSM you may move Acme one step forward (to Implementation), back to any earlier stage, or to Churned, so not straight to Mature adoption. ' +
        'Move it one stage at a time, or ask a manager to make this move.',
    );
    expect(refusal('a rule', 'implementation', 'mature_adoption')).toBe(
      'Rule: first value reached may move Acme only one step forward (to Early adoption), not to Mature adoption: any other move is for a person to decide.',
    );
    expect(refusal('its AE', 'onboarding', 'implementation')).toBe(
      'Account executives may move their own accounts only from Pre-onboarding, one step forward; Acme has moved past it. Ask its CSM to move it.',
    );
  });
});

const database = useTestDatabase();

async function historyOf(accountId: string) {
  return database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, accountId)).orderBy(asc(stageTransitions.accountVersion));
}

function auditNotesOf(accountId: string) {
  return database.db.select().from(outbox).where(like(outbox.dedupeKey, `stage_audit:${accountId}:%`)).orderBy(asc(outbox.id));
}

describe('every stage move goes through the same checks and the same audit', () => {
  it('a move from any source records its transition and queues its audit note in the same transaction', async () => {
    const manager = await createUser(database.db, { role: 'manager' });
    for (const source of ['api', 'slack', 'rule'] as const) {
      const account = await createAccount(database.db, { stageKey: 'implementation' });
      const actor = source === 'rule' ? ruleActor('first_value', 'Rule: first value reached') : actorFromUser(manager);
      const { transition } = await moveAccountStage(database.db, { accountId: account.id, toStage: 'early_adoption', expectedVersion: 1, actor, source });
      const notes = await auditNotesOf(account.id);
      expect(notes.map((note) => [note.kind, note.target, note.payload])).toEqual([
        ['stage_audit', 'channel:handoffs', { accountId: account.id, transitionId: transition.id }],
      ]);
    }
  });

  it('managers and admins need a reason to move backward or to Churned too, and nothing is written without one', async () => {
    const manager = await createUser(database.db, { role: 'manager' });
    const admin: Actor = { userId: null, role: 'admin', label: 'Admin token' };
    // A move to Churned names a churn reason (its free text is optional): refused on `churnReasonKey` without one.
    for (const [actor, from, to, field] of [
      [actorFromUser(manager), 'mature_adoption', 'onboarding', 'reason'],
      [admin, 'onboarding', 'churned', 'churnReasonKey'],
    ] as const) {
      const account = await createAccount(database.db, { stageKey: from, name: `Reasonless ${from}` });
      const refused = moveAccountStage(database.db, { accountId: account.id, toStage: to, expectedVersion: 1, actor, source: 'api', reason: '   ' });
      await expect(refused).rejects.toBeInstanceOf(ReasonRequiredError);
      await expect(refused).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(await historyOf(account.id)).toHaveLength(1);
      expect(await auditNotesOf(account.id)).toEqual([]);
    }
  });

  it('the preview says which moves need a reason before anything is written, and refuses what the move would refuse', async () => {
    const csm = actorFromUser(await createUser(database.db, { role: 'csm' }));
    const viewer = actorFromUser(await createUser(database.db, { role: 'viewer' }));
    const account = await createAccount(database.db, { stageKey: 'implementation', csmId: csm.userId, name: 'Previewed Co' });
    const ask = (toStage: string, actor: Actor = csm, expectedVersion = 1) => previewStageMove(database.db, { accountId: account.id, toStage, actor, expectedVersion });
    expect(await ask('early_adoption')).toMatchObject({ reasonRequired: false, from: { key: 'implementation' }, to: { key: 'early_adoption' } });
    expect(await ask('onboarding')).toMatchObject({ reasonRequired: true, to: { key: 'onboarding' } });
    expect(await ask('churned')).toMatchObject({ reasonRequired: true, to: { key: 'churned' } });
    await expect(ask('mature_adoption')).rejects.toBeInstanceOf(ForbiddenError);
    await expect(ask('onboarding', viewer)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(ask('onboarding', csm, 7)).rejects.toMatchObject({ code: 'STALE_VERSION' });
    expect(await historyOf(account.id)).toHaveLength(1);
    expect(await auditNotesOf(account.id)).toEqual([]);
  });

  it('a rule cannot move an account backward or skip a stage, even with a reason', async () => {
    const account = await createAccount(database.db, { stageKey: 'early_adoption' });
    const rule = ruleActor('first_value', 'Rule: first value reached');
    for (const toStage of ['implementation', 'churned']) {
      const refused = moveAccountStage(database.db, { accountId: account.id, toStage, expectedVersion: 1, actor: rule, source: 'rule', reason: 'because' });
      await expect(refused).rejects.toBeInstanceOf(ForbiddenError);
    }
    expect(await historyOf(account.id)).toHaveLength(1);
  });

  it('imported history is recorded with its own time under the same rules, without announcing it in Slack', async () => {
    const csm = await createUser(database.db, { role: 'csm' });
    const account = await createAccount(database.db, { stageKey: 'onboarding', csmId: csm.id, enteredAt: new Date('2026-01-01T00:00:00Z') });
    const occurredAt = new Date('2026-02-01T00:00:00Z');
    const skip = moveAccountStage(database.db, { accountId: account.id, toStage: 'mature_adoption', expectedVersion: 1, actor: actorFromUser(csm), source: 'import', occurredAt });
    await expect(skip).rejects.toBeInstanceOf(ForbiddenError);
    const { transition } = await moveAccountStage(database.db, { accountId: account.id, toStage: 'implementation', expectedVersion: 1, actor: actorFromUser(csm), source: 'import', occurredAt });
    expect(transition).toMatchObject({ source: 'import', occurredAt });
    expect(await auditNotesOf(account.id)).toEqual([]);
  });
});
