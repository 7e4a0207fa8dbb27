// Who may do what, as the authorization scenarios check it on every surface: the expectations by role, the book of
// people, tokens and accounts each attempt runs against, the ownership variants both surfaces try, and the tally
// each scenario reports.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Db } from '../../../db/client.ts';
import { type Account, type Handoff, type HandoffStatus, type Lead, type Renewal, type TokenRole, type User, type UserRole, accounts, handoffs, leads, renewals, ruleFirings } from '../../../db/schema.ts';
import type { Actor } from '../../../domain/actors.ts';
import { DAY_MS, addDays, isoDay } from '../../../domain/dates.ts';
import { recordClosedWon } from '../../../domain/handoffs/closed-won.ts';
import { acceptHandoff, confirmHandoff, scheduleKickoff } from '../../../domain/handoffs/handoffs.ts';
import { defineStage } from '../../../domain/lifecycle/stages.ts';
import { openDueRenewals } from '../../../domain/renewals/window.ts';
import { recordRevenueChange } from '../../../domain/revenue.ts';
import { qualifyLead } from '../../../domain/leads.ts';
import { createAccount, createToken, createUser } from '../../support/factories.ts';
import { setHealth } from '../../support/health.ts';
import { recordScenario } from './report.ts';
import { type FaultStack, startFaultStack } from './stack.ts';

// Who may do what, written down here from the product's role rules, not taken from domain/access.ts:
//   admin        everything
//   manager      read all, move any stage, metrics; supervises handoffs and the Slack outbox
//   csm          read all, write own accounts (their stage moves, handoff acceptance, kickoff, at-risk follow-up)
//   ae           read own accounts (the ones they sold), confirm their handoffs; move their own account while it
//                is still in Pre-onboarding, the stage account executives own
//   viewer       read only
//   integration  ingestion mutations only (plus `viewer`, which says who the token is)
// Every GraphQL root field and every Slack entry point must be classified; a new one fails its scenario.

export const ROLES: TokenRole[] = ['admin', 'manager', 'csm', 'ae', 'viewer', 'integration'];
export const PEOPLE_ROLES: UserRole[] = ['admin', 'manager', 'csm', 'ae', 'viewer'];

export type Expectation = 'allowed' | 'denied' | 'hidden';
export const only =
  (...roles: string[]) =>
  (role: string): Expectation =>
    roles.includes(role) ? 'allowed' : 'denied';
export const readers = only('admin', 'manager', 'csm', 'ae', 'viewer');
export const supervisors = only('admin', 'manager');
export const admins = only('admin');
export const ingesters = only('admin', 'integration');

export interface Book {
  account: Account;
  handoff: Handoff;
}

interface State {
  stack: FaultStack;
  people: Map<string, User>;
  tokens: Map<TokenRole, string>;
  otherCsm: User;
  otherAe: User;
  ownBook: Book;
  otherBook: Book;
}

const fixtureActor: Actor = { userId: null, role: 'admin', label: 'Authorization fixtures' };
export const crm: Actor = { userId: null, role: 'integration', label: 'CRM' };
/** Tells this run's rows apart from another run's against the same cluster. */
export const run = Date.now().toString(36);
/** A stage the fixture defines, for updateStage to rename. */
export const fixtureStageKey = `authz_${run}`;
let sequence = 0;
let state: State | undefined;
let started: FaultStack | undefined;

/** A number no earlier call returned, for keys and ids that must be new. */
export function nextNumber(): number {
  sequence += 1;
  return sequence;
}

export const unique = (prefix: string) => `${prefix}-${run}-${nextNumber()}`;

function ready(): State {
  if (!state) throw new Error('the authorization fixture is not started: call useAuthorizationFixture() in the test file');
  return state;
}

export const stack = (): FaultStack => ready().stack;
export const db = (): Db => ready().stack.database.db;
export const otherCsm = (): User => ready().otherCsm;
export const otherAe = (): User => ready().otherAe;
/** The AE's and the CSM's own account, and one that belongs to other people: the ownership fixtures. */
export const ownBook = (): Book => ready().ownBook;
export const otherBook = (): Book => ready().otherBook;

export function person(role: string): User {
  const found = ready().people.get(role);
  if (!found) throw new Error(`no ${role} in the fixture`);
  return found;
}

export function tokenOf(role: TokenRole): string {
  const token = ready().tokens.get(role);
  if (!token) throw new Error(`no ${role} token`);
  return token;
}

export function dayIn(days: number): string {
  return isoDay(addDays(new Date(), days));
}

async function closedWon(database: Db, owners: { aeId: string | null; csmId: string | null }, name = unique('Authz Co')): Promise<Book> {
  const result = await recordClosedWon(database, {
    opportunityId: unique('opp'),
    account: { externalId: unique('crm'), name, segment: 'smb', arrCents: 1_200_000, contractEnd: dayIn(120) },
    aeId: owners.aeId,
    csmId: owners.csmId,
    closedWonAt: new Date(Date.now() - 2 * DAY_MS),
    context: { goals: 'Roll out to two teams', promises: 'SSO by January', stakeholders: 'Dana (VP Ops)', risks: 'Budget review in Q1' },
    actor: crm,
  });
  if (!result.handoff) throw new Error(`${name} was recorded as an existing customer: no handoff`);
  return { account: result.account, handoff: result.handoff };
}

export type HandoffStep = 'pending' | 'confirmed' | 'accepted' | 'kickoff_scheduled';

/** A handoff brought to a status by an admin, so the step under test is the next one. */
export async function handoffAt(status: HandoffStep, owners: { aeId: string | null; csmId: string | null }): Promise<Handoff> {
  const { handoff } = await closedWon(db(), owners);
  if (status === 'pending') return handoff;
  await confirmHandoff(db(), { handoffId: handoff.id, actor: fixtureActor });
  if (status === 'confirmed') return (await handoffById(handoff.id)) ?? handoff;
  await acceptHandoff(db(), { handoffId: handoff.id, actor: fixtureActor });
  if (status === 'accepted') return (await handoffById(handoff.id)) ?? handoff;
  await scheduleKickoff(db(), { handoffId: handoff.id, actor: fixtureActor, kickoffAt: new Date(Date.now() + DAY_MS) });
  return (await handoffById(handoff.id)) ?? handoff;
}

export async function handoffById(id: string): Promise<Handoff | undefined> {
  const [row] = await db().select().from(handoffs).where(eq(handoffs.id, id));
  return row;
}

export async function accountById(id: string): Promise<Account | undefined> {
  const [row] = await db().select().from(accounts).where(eq(accounts.id, id));
  return row;
}

/** The change a handoff step makes: the handoff reached `status`. */
export const reached = (handoffId: string, status: HandoffStatus) => async () => (await handoffById(handoffId))?.status === status;

/** The change a stage move makes: the account now stands in `stage`. */
export const movedTo = (accountId: string, stage: string) => async () => (await accountById(accountId))?.stageKey === stage;

/** Starts a stack with one replica and writes the fixture before the file's tests; tears it down after them. */
export function useAuthorizationFixture(): void {
  beforeAll(async () => {
    started = await startFaultStack({ replicas: 1, env: { LIFELINE_JOBS: 'off' } });
    const fixtureDb = started.database.db;
    const people = new Map<string, User>();
    const tokens = new Map<TokenRole, string>();
    for (const role of PEOPLE_ROLES) {
      const user = await createUser(fixtureDb, { role, name: `Authz ${role}`, slackUserId: `UAUTHZ${role.toUpperCase()}` });
      people.set(role, user);
      tokens.set(role, await createToken(fixtureDb, role, user));
    }
    tokens.set('integration', await createToken(fixtureDb, 'integration'));
    const ownAe = people.get('ae');
    const ownCsm = people.get('csm');
    if (!ownAe || !ownCsm) throw new Error('no AE or CSM in the fixture');
    const otherCsmUser = await createUser(fixtureDb, { role: 'csm', name: 'Authz other CSM' });
    const otherAeUser = await createUser(fixtureDb, { role: 'ae', name: 'Authz other AE' });
    const own = await closedWon(fixtureDb, { aeId: ownAe.id, csmId: ownCsm.id }, `Authz Book Own ${run}`);
    const other = await closedWon(fixtureDb, { aeId: otherAeUser.id, csmId: otherCsmUser.id }, `Authz Book Other ${run}`);
    for (const book of [own, other]) {
      await setHealth(fixtureDb, book.account.id, { score: 45, status: 'at_risk', scoreDayAgo: 62, scoreWeekAgo: 70, reasons: ['Weekly active users fell 40%'] });
    }
    await defineStage(fixtureDb, { actor: fixtureActor, key: fixtureStageKey, name: 'Authz target', position: 900, ownerRole: 'csm', entryCriteria: '', exitCriteria: '', slaDays: null, terminal: false });
    state = { stack: started, people, tokens, otherCsm: otherCsmUser, otherAe: otherAeUser, ownBook: own, otherBook: other };
  });
  afterAll(async () => {
    await started?.teardown();
  });
}

/** What a variant acts on belongs to this person; read when the attempt is prepared, once the fixture exists. */
export type OwnerVariant = readonly [variant: string, owner: () => string | null, expect: (role: string) => Expectation];

/** The AE's own handoff and another AE's: an account executive confirms (or edits) only the deals they sold. */
export const aeHandoffVariants: readonly OwnerVariant[] = [
  ['own handoff', () => person('ae').id, only('admin', 'manager', 'ae')],
  ["another AE's handoff", () => otherAe().id, supervisors],
];

/** The CSM's own and another CSM's (handoff, account): a CSM acts only on their own. */
export function csmVariants(noun: string): OwnerVariant[] {
  return [
    [`own ${noun}`, () => person('csm').id, only('admin', 'manager', 'csm')],
    [`another CSM's ${noun}`, () => otherCsm().id, supervisors],
  ];
}

/** Accepting a handoff: any CSM may take one that has no CSM yet. */
export const acceptVariants: readonly OwnerVariant[] = [...csmVariants('handoff'), ['handoff without a CSM', () => null, only('admin', 'manager', 'csm')]];

export type StageMoveVariant = readonly [
  variant: string,
  from: string,
  to: string,
  owners: () => { csmId: string; aeId: string },
  expect: (role: string) => Expectation,
];

/**
 * Calling a renewal's forecast and recording its outcome: the account's CSM or AE, managers and admins. Each attempt
 * acts on a renewal of its own, opened the way the daily pass opens one, on an account owned as the variant says.
 */
export const renewalVariants: readonly (readonly [variant: string, owners: () => { csmId: string; aeId: string }, expect: (role: string) => Expectation])[] = [
  ["the own book's renewal", () => ({ csmId: person('csm').id, aeId: person('ae').id }), only('admin', 'manager', 'csm', 'ae')],
  ["another book's renewal", () => ({ csmId: otherCsm().id, aeId: otherAe().id }), supervisors],
];

export const RENEWAL_ARR_CENTS = 1_200_000;

/** An open renewal 30 days out on a fresh account owned as given, with its MRR in the ledger. */
export async function openRenewal(owners: { csmId: string; aeId: string }): Promise<Renewal & { accountName: string }> {
  const contractEnd = dayIn(30);
  const name = unique('Authz Renewal Co');
  const account = await createAccount(db(), { ...owners, name, stageKey: 'mature_adoption', arrCents: RENEWAL_ARR_CENTS, contractEnd });
  await recordRevenueChange(db(), { accountId: account.id, kind: 'new', mrrDeltaCents: RENEWAL_ARR_CENTS / 12, effectiveDate: dayIn(-300), actor: fixtureActor });
  await openDueRenewals(db(), { windowDays: 90, accountIds: [account.id] });
  const [renewal] = await db().select().from(renewals).where(eq(renewals.accountId, account.id));
  if (!renewal) throw new Error('the renewal did not open');
  return { ...renewal, accountName: name };
}

/**
 * Expansion leads: qualified by the account's CSM (managers, admins), accepted, declined or marked lost by the
 * account's AE (managers, admins). Each attempt acts on an account of its own, owned as the variant says.
 */
export const leadVariants: readonly (readonly [variant: string, owners: () => { csmId: string; aeId: string }, qualifies: (role: string) => Expectation, answers: (role: string) => Expectation])[] = [
  ["the own book's lead", () => ({ csmId: person('csm').id, aeId: person('ae').id }), only('admin', 'manager', 'csm'), only('admin', 'manager', 'ae')],
  ["another book's lead", () => ({ csmId: otherCsm().id, aeId: otherAe().id }), supervisors, supervisors],
];

/** An expansion signal (as the rule records it) on a fresh account owned as given. */
export async function expansionSignal(owners: { csmId: string; aeId: string }): Promise<{ firingId: number; accountName: string }> {
  const name = unique('Authz Lead Co');
  const account = await createAccount(db(), { ...owners, name, stageKey: 'mature_adoption' });
  const [firing] = await db().insert(ruleFirings).values({ rule: 'expansion_signal', accountId: account.id, occasion: isoDay(new Date()), reason: 'advanced-feature events up 80%' }).returning();
  if (!firing) throw new Error('the signal was not recorded');
  return { firingId: firing.id, accountName: name };
}

/** A lead qualified from a fresh signal, waiting for its AE. */
export async function qualifiedLead(owners: { csmId: string; aeId: string }): Promise<Lead & { accountName: string }> {
  const signal = await expansionSignal(owners);
  const { lead } = await qualifyLead(db(), { firingId: signal.firingId, wants: 'More seats', estimatedMrrCents: 50_000, urgency: 'medium', actor: fixtureActor });
  return { ...lead, accountName: signal.accountName };
}

/** The lead's status now, for a case's effect. */
export const leadStatusIs = (leadId: string, status: Lead['status']) => async () => (await db().select().from(leads).where(eq(leads.id, leadId)))[0]?.status === status;
export const leadOfSignal = (firingId: number) => async () => (await db().select().from(leads).where(eq(leads.firingId, firingId))).length > 0;

/** Stage moves on the CSM's own account, another CSM's, and the AE's own while it is still in Pre-onboarding. */
export const stageMoveVariants: readonly StageMoveVariant[] = [
  ["the CSM's own account", 'onboarding', 'implementation', () => ({ csmId: person('csm').id, aeId: otherAe().id }), only('admin', 'manager', 'csm')],
  ["another CSM's account", 'onboarding', 'implementation', () => ({ csmId: otherCsm().id, aeId: otherAe().id }), supervisors],
  ["the AE's own account in Pre-onboarding", 'pre_onboarding', 'onboarding', () => ({ csmId: otherCsm().id, aeId: person('ae').id }), only('admin', 'manager', 'ae')],
];

/** What a scenario tried: each attempt is a failure (with its problems), or allowed or refused as expected. */
export class Tally {
  tried = 0;
  allowed = 0;
  denied = 0;
  failures: string[] = [];

  count(attempt: { name: string; variant?: string | undefined; as: string }, expected: Expectation, problems: string[]): void {
    this.tried += 1;
    if (problems.length > 0) this.failures.push(`${attempt.name}${attempt.variant ? ` (${attempt.variant})` : ''} as ${attempt.as}: ${problems.join('; ')}`);
    else if (expected === 'allowed') this.allowed += 1;
    else this.denied += 1;
  }
}

/** The entry points a surface has that no case covers, and the cases for entry points it no longer has. */
export function classification(live: string[], classified: Set<string>): { unclassified: string[]; stale: string[] } {
  return { unclassified: live.filter((entry) => !classified.has(entry)), stale: [...classified].filter((entry) => !live.includes(entry)) };
}

/**
 * Records a scenario's tally in the fault summary, then fails it on any attempt that went otherwise than expected
 * and on any entry point without an expectation (`unclassified`) or expectation without an entry point (`stale`).
 */
export async function reportAuthorization(params: {
  scenario: string;
  tally: Tally;
  coverage: { unclassified: string[]; stale: string[] };
  note: string;
  /** How each list is named in a failure: what lacks an expectation, and what the surface no longer has. */
  missing: string;
  gone: string;
}): Promise<void> {
  const { tally, coverage } = params;
  await recordScenario({
    scenario: params.scenario,
    repetitions: tally.tried,
    // Who may do what: no notifications are counted here, only what each role was allowed or refused.
    expected: 'n/a',
    delivered: 'n/a',
    duplicated: 'n/a',
    rejected: tally.denied,
    failures: tally.failures.length + coverage.unclassified.length + coverage.stale.length,
    note: params.note,
  });
  expect(coverage.unclassified, params.missing).toEqual([]);
  expect(coverage.stale, params.gone).toEqual([]);
  expect(tally.failures).toEqual([]);
}
