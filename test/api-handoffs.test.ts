import { eq, inArray } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { type User, accounts, outbox, renewals, stageTransitions, users } from '../db/schema.ts';
import { actorFromUser, systemReader } from '../domain/actors.ts';
import { type NewCustomerClosedWon, type RecordClosedWonParams, recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { acceptHandoff, completeHandoff, confirmHandoff, getHandoff, listHandoffs, scheduleKickoff } from '../domain/handoffs/handoffs.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

const database = useTestDatabase();
let ae: User;
let otherAe: User;
let csm: User;
let otherCsm: User;
let manager: User;
const crm = { userId: null, role: 'integration', label: 'API token "crm"' } as const;
let sequence = 0;

beforeAll(async () => {
  ae = await createUser(database.db, { role: 'ae', name: 'Tom Becker' });
  otherAe = await createUser(database.db, { role: 'ae', name: 'Grace Kim' });
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor' });
  otherCsm = await createUser(database.db, { role: 'csm', name: 'Lena Fischer' });
  manager = await createUser(database.db, { role: 'manager', name: 'Maya Patel' });
});

function closedWon(overrides: Partial<RecordClosedWonParams> = {}): RecordClosedWonParams {
  sequence += 1;
  return {
    opportunityId: `opp-${sequence}`,
    account: { externalId: `crm-${sequence}`, name: `Closed Co ${sequence}`, segment: 'mid_market', arrCents: 12_000_000, contractEnd: '2099-12-31' },
    aeId: ae.id,
    csmId: csm.id,
    closedWonAt: new Date('2026-11-20T10:00:00Z'),
    context: { goals: 'Cut churn by 10%', promises: 'SSO in Q1', stakeholders: 'Dana (VP CS)', risks: 'Legacy CRM', notes: null },
    goLiveTarget: '2027-02-01',
    actor: crm,
    ...overrides,
  };
}

/** Closed-won of an account Lifeline did not know: always a new customer, with its handoff. */
async function newCustomer(params: RecordClosedWonParams): Promise<NewCustomerClosedWon> {
  const result = await recordClosedWon(database.db, params);
  if (result.kind !== 'new_customer') throw new Error(`${params.account.name} was recorded as ${result.kind}, not a new customer`);
  return result;
}

async function handoffNotifications(handoffId: string): Promise<string[]> {
  const rows = await database.db.select().from(outbox).where(eq(outbox.messageKey, `handoff:${handoffId}`));
  return rows.map((row) => `${row.target} ${row.dedupeKey.replace(handoffId, 'ID')}`).sort();
}

describe('closed-won', () => {
  it('creates the account in Onboarding, the handoff with its SLA, the renewal, and queues the handoff message', async () => {
    const result = await newCustomer(closedWon());
    expect(result.created).toBe(true);
    expect(result.account).toMatchObject({ stageKey: 'onboarding', aeId: ae.id, csmId: csm.id, arrCents: 12_000_000, version: 1 });
    expect(result.handoff).toMatchObject({ status: 'pending', version: 1, goals: 'Cut churn by 10%', goLiveTarget: '2027-02-01' });
    expect(result.handoff.slaDueAt.toISOString()).toBe('2026-11-23T10:00:00.000Z');
    const history = await database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, result.account.id));
    expect(history.map((row) => [row.direction, row.toStage, row.source])).toEqual([['initial', 'onboarding', 'rule']]);
    const [renewal] = await database.db.select().from(renewals).where(eq(renewals.accountId, result.account.id));
    // A contract end far ahead of any day this runs on: the renewal stays upcoming, its window not yet open.
    expect(renewal).toMatchObject({ contractEnd: '2099-12-31', windowOpensOn: '2099-10-02', status: 'upcoming' });
    expect(await handoffNotifications(result.handoff.id)).toEqual(['channel:handoffs handoff:ID:v1']);
  });

  it('recording the same opportunity again returns the same handoff and changes nothing', async () => {
    const params = closedWon();
    const first = await newCustomer(params);
    const again = await newCustomer({ ...params, account: { ...params.account, name: 'Renamed' }, context: { goals: 'Other' } });
    expect(again.created).toBe(false);
    expect(again.handoff).toEqual(first.handoff);
    expect(again.account.name).toBe(first.account.name);
    expect(await handoffNotifications(first.handoff.id)).toEqual(['channel:handoffs handoff:ID:v1']);
  });

  it('concurrent deliveries of one opportunity create exactly one handoff', async () => {
    const params = closedWon();
    const results = await Promise.all([newCustomer(params), newCustomer(params), newCustomer(params)]);
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.handoff.id)).size).toBe(1);
  });

  it('moves an existing account into Onboarding with source rule and keeps its history', async () => {
    const existing = await createAccount(database.db, { stageKey: 'pre_onboarding', aeId: ae.id });
    const params = closedWon();
    await database.db.update(accounts).set({ externalId: params.account.externalId }).where(eq(accounts.id, existing.id));
    const result = await newCustomer(params);
    expect(result.account).toMatchObject({ id: existing.id, stageKey: 'onboarding', version: 2 });
    const history = await database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, existing.id)).orderBy(stageTransitions.accountVersion);
    expect(history.map((row) => [row.fromStage, row.toStage, row.direction, row.source, row.actorLabel])).toEqual([
      [null, 'pre_onboarding', 'initial', 'import', 'Test setup'],
      ['pre_onboarding', 'onboarding', 'forward', 'rule', 'Closed-won rule'],
    ]);
  });

  it('refuses people roles and explains bad input with the field', async () => {
    await expect(recordClosedWon(database.db, closedWon({ actor: actorFromUser(manager) }))).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(
      recordClosedWon(database.db, closedWon({ account: { externalId: 'x', name: 'X', segment: 'smb', arrCents: -5 } })),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'account.arrCents', message: 'account.arrCents: ARR cannot be negative' });
    await expect(recordClosedWon(database.db, closedWon({ aeId: '00000000-0000-4000-8000-000000000000' }))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'aeId',
    });
  });
});

describe('handoff lifecycle', () => {
  it('goes pending → confirmed → accepted → kickoff scheduled → completed, bumping the version and queueing each change', async () => {
    const { handoff } = await newCustomer(closedWon());
    const confirmed = await confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(ae), context: { risks: 'Legacy CRM, data migration' } });
    expect(confirmed).toMatchObject({ status: 'confirmed', version: 2, risks: 'Legacy CRM, data migration', goals: 'Cut churn by 10%', confirmedBy: ae.id });
    const accepted = await acceptHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(csm) });
    expect(accepted).toMatchObject({ status: 'accepted', version: 3, acceptedBy: csm.id });
    const scheduled = await scheduleKickoff(database.db, { handoffId: handoff.id, actor: actorFromUser(csm), kickoffAt: new Date('2026-11-24T15:00:00Z') });
    expect(scheduled).toMatchObject({ status: 'kickoff_scheduled', version: 4 });
    expect(scheduled.kickoffAt?.toISOString()).toBe('2026-11-24T15:00:00.000Z');
    const completed = await completeHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(manager) });
    expect(completed).toMatchObject({ status: 'completed', version: 5 });
    expect(await handoffNotifications(handoff.id)).toEqual([1, 2, 3, 4, 5].map((version) => `channel:handoffs handoff:ID:v${version}`));
    expect(await getHandoff(database.db, { id: handoff.id, reader: systemReader })).toEqual(completed);
  });

  it('only the AE on the handoff (or a manager) can confirm it, and the message names that AE', async () => {
    const { handoff } = await newCustomer(closedWon());
    await expect(confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(otherAe) })).rejects.toThrow(
      'Only the account executive on this handoff (Tom Becker) can confirm its context, or a manager.',
    );
    await expect(confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(csm) })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(manager) })).resolves.toMatchObject({ status: 'confirmed' });
  });

  it('steps cannot be skipped or repeated, and the error says where the handoff stands', async () => {
    const { handoff } = await newCustomer(closedWon());
    await expect(acceptHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(csm) })).rejects.toThrow(
      /cannot be accepted yet: it is waiting for the account executive to confirm it/,
    );
    await confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(ae) });
    await expect(confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(ae) })).rejects.toThrow(/already past that step/);
    await expect(acceptHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(otherCsm) })).rejects.toThrow(
      'Only the CSM on this handoff (Sam Okafor) or a manager can accept it.',
    );
  });

  it('a CSM accepting a handoff without a CSM claims it and becomes the account CSM', async () => {
    const { handoff, account } = await newCustomer(closedWon({ csmId: null }));
    await confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(ae) });
    const accepted = await acceptHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(otherCsm) });
    expect(accepted.csmId).toBe(otherCsm.id);
    const [reloaded] = await database.db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(reloaded?.csmId).toBe(otherCsm.id);
  });

  it('lists handoffs by status and by person, soonest SLA first', async () => {
    const pending = await listHandoffs(database.db, { status: 'pending', reader: actorFromUser(otherAe) });
    expect(pending).toEqual([]);
    const mine = await listHandoffs(database.db, { reader: actorFromUser(ae) });
    expect(mine.length).toBeGreaterThan(3);
    expect(mine.every((handoff) => handoff.aeId === ae.id)).toBe(true);
    const times = mine.map((handoff) => handoff.slaDueAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("a manager confirms and accepts for an absent AE and CSM who report to them, and the handoff keeps who did it", async () => {
    const lead = await createUser(database.db, { role: 'manager', name: 'Ruth Lead' });
    const absentAe = await createUser(database.db, { role: 'ae', name: 'Ivy Away' });
    const absentCsm = await createUser(database.db, { role: 'csm', name: 'Noah Away' });
    await database.db.update(users).set({ managerId: lead.id }).where(inArray(users.id, [absentAe.id, absentCsm.id]));
    const { handoff } = await newCustomer(closedWon({ aeId: absentAe.id, csmId: absentCsm.id }));
    const confirmed = await confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(lead) });
    expect(confirmed).toMatchObject({ status: 'confirmed', aeId: absentAe.id, confirmedBy: lead.id });
    const accepted = await acceptHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(lead) });
    expect(accepted).toMatchObject({ status: 'accepted', csmId: absentCsm.id, acceptedBy: lead.id });

    const api = createGraphqlClient(database.db);
    const read = await api.request('query ($id: ID!) { handoff(id: $id) { ae { name } confirmedBy { name } csm { name } acceptedBy { name } } }', { id: handoff.id }, await createToken(database.db, 'manager', lead));
    expect(read.body.data).toEqual({ handoff: { ae: { name: 'Ivy Away' }, confirmedBy: { name: 'Ruth Lead' }, csm: { name: 'Noah Away' }, acceptedBy: { name: 'Ruth Lead' } } });
  });

  it("a manager whose reports are not on the handoff is refused, told which manager can; an admin may act on any", async () => {
    const lead = await createUser(database.db, { role: 'manager', name: 'Ruth Lead' });
    const outsider = await createUser(database.db, { role: 'manager', name: 'Omar Other' });
    const absentAe = await createUser(database.db, { role: 'ae', name: 'Ivy Away' });
    await database.db.update(users).set({ managerId: lead.id }).where(eq(users.id, absentAe.id));
    const { handoff } = await newCustomer(closedWon({ aeId: absentAe.id, csmId: csm.id }));
    const refusal =
      'Managers can confirm handoffs only for accounts whose CSM or account executive reports to them, and Ivy Away reports to Ruth Lead. Ask that manager or an admin, or the people on the handoff of Closed Co';
    await expect(confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(outsider) })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringContaining(refusal),
    });
    const api = createGraphqlClient(database.db);
    const viaApi = await api.request('mutation ($id: ID!) { confirmHandoff(handoffId: $id) { status } }', { id: handoff.id }, await createToken(database.db, 'manager', outsider));
    expect(viaApi.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' }, message: expect.stringContaining(refusal) });
    expect(await getHandoff(database.db, { id: handoff.id, reader: systemReader })).toMatchObject({ status: 'pending', confirmedBy: null });

    const admin = await createUser(database.db, { role: 'admin', name: 'Alex Admin' });
    await expect(confirmHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(admin) })).resolves.toMatchObject({ confirmedBy: admin.id });
    await expect(acceptHandoff(database.db, { handoffId: handoff.id, actor: actorFromUser(outsider) })).rejects.toThrow(
      /^Managers can accept handoffs only for accounts whose CSM or account executive reports to them, and Ivy Away reports to Ruth Lead\./,
    );
  });

  it('an unknown handoff id is NOT_FOUND', async () => {
    await expect(confirmHandoff(database.db, { handoffId: 'nope', actor: actorFromUser(ae) })).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'handoffId' });
  });
});

describe('handoffs through GraphQL', () => {
  it('the CRM records a closed-won deal, the AE confirms it, and a stranger gets FORBIDDEN naming the AE', async () => {
    const api = createGraphqlClient(database.db);
    const crmToken = await createToken(database.db, 'integration');
    const recorded = await api.request(
      `mutation ($input: RecordClosedWonInput!) { recordClosedWon(input: $input) { created handoff { id status slaDueAt ae { name } } account { stage { key } } } }`,
      {
        input: {
          opportunityId: 'gql-opp-1',
          account: { externalId: 'gql-acct-1', name: 'Graph Co', segment: 'smb', arrCents: 600_000 },
          aeId: ae.id,
          closedWonAt: '2026-11-20T10:00:00Z',
          context: { goals: 'Go live before Q1' },
        },
      },
      crmToken,
    );
    expect(recorded.body.errors).toBeUndefined();
    const payload = (recorded.body.data as { recordClosedWon: { created: boolean; handoff: { id: string; status: string; slaDueAt: string; ae: { name: string } } } }).recordClosedWon;
    expect(payload).toMatchObject({ created: true, handoff: { status: 'pending', slaDueAt: '2026-11-23T10:00:00.000Z', ae: { name: 'Tom Becker' } }, account: { stage: { key: 'onboarding' } } });

    const stranger = await api.request('mutation ($id: ID!) { confirmHandoff(handoffId: $id) { status } }', { id: payload.handoff.id }, await createToken(database.db, 'ae', otherAe));
    expect(stranger.body.errors?.[0]).toMatchObject({
      message: 'Only the account executive on this handoff (Tom Becker) can confirm its context, or a manager.',
      extensions: { code: 'FORBIDDEN' },
    });
    const confirmed = await api.request(
      'mutation ($id: ID!) { confirmHandoff(handoffId: $id, context: { risks: "Tight timeline" }) { status risks goals version } }',
      { id: payload.handoff.id },
      await createToken(database.db, 'ae', ae),
    );
    expect(confirmed.body.data).toEqual({ confirmHandoff: { status: 'confirmed', risks: 'Tight timeline', goals: 'Go live before Q1', version: 2 } });
    const pending = await api.request('{ handoffs(status: confirmed) { id } }', {}, await createToken(database.db, 'ae', ae));
    expect((pending.body.data as { handoffs: { id: string }[] }).handoffs.map((handoff) => handoff.id)).toContain(payload.handoff.id);
  });
});
