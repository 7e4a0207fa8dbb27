import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BlockAction, DatepickerAction } from '@slack/bolt';
import { and, count, eq, gt, isNotNull, or } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionIds, CallbackIds, FieldIds, INPUT_ACTION, cardBlockId } from '../../bot/ids.ts';
import { encodeDigestValue } from '../../bot/views/digest.ts';
import type { Db } from '../../db/client.ts';
import {
  type Account,
  type Handoff,
  type TokenRole,
  type User,
  type UserRole,
  accountHealth,
  accounts,
  apiTokens,
  atRiskFollowUps,
  csmTouches,
  firstValues,
  handoffs,
  healthSettings,
  jobRuns,
  lifecycleStages,
  outbox,
  revenueChanges,
  surveyResponses,
  tickets,
  usageDaily,
  users,
} from '../../db/schema.ts';
import type { Actor } from '../../domain/actors.ts';
import { recordClosedWon } from '../../domain/handoffs/closed-won.ts';
import { acceptHandoff, confirmHandoff, scheduleKickoff } from '../../domain/handoffs/handoffs.ts';
import { recordTicket } from '../../domain/signals.ts';
import { defineStage } from '../../domain/lifecycle/stages.ts';
import { createApiToken } from '../../domain/tokens.ts';
import { createAccount, createToken, createUser } from '../support/factories.ts';
import type { RecordedCall } from '../support/fake-slack.ts';
import {
  type SlackHttpResponse,
  type ViewStateValues,
  appHomeOpenedEvent,
  buttonAction,
  slashCommand,
  staticSelectAction,
  viewSubmissionPayload,
} from '../support/slack-requests.ts';
import { recordScenario } from './support/report.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';
import { DAY_MS } from '../../domain/dates.ts';

// Who may do what, written down here from the product's role rules, not taken from domain/access.ts:
//   admin        everything
//   manager      read all, move any stage, metrics; supervises handoffs and the Slack outbox
//   csm          read all, write own accounts (their stage moves, handoff acceptance, kickoff, at-risk follow-up)
//   ae           read own accounts (the ones they sold), confirm their handoffs; move their own account while it
//                is still in Pre-onboarding, the stage account executives own
//   viewer       read only
//   integration  ingestion mutations only (plus `viewer`, which says who the token is)
// Every GraphQL root field and every Slack entry point must be classified below; a new one fails the scenario.

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const ROLES: TokenRole[] = ['admin', 'manager', 'csm', 'ae', 'viewer', 'integration'];
const PEOPLE_ROLES: UserRole[] = ['admin', 'manager', 'csm', 'ae', 'viewer'];

type Expectation = 'allowed' | 'denied' | 'hidden';
const only =
  (...roles: string[]) =>
  (role: string): Expectation =>
    roles.includes(role) ? 'allowed' : 'denied';
const readers = only('admin', 'manager', 'csm', 'ae', 'viewer');
const supervisors = only('admin', 'manager');
const admins = only('admin');
const ingesters = only('admin', 'integration');

let stack: FaultStack;
let db: Db;
const people = new Map<string, User>();
const tokens = new Map<TokenRole, string>();
let otherCsm: User;
let otherAe: User;
/** The AE's and the CSM's own account, and one that belongs to other people: the ownership fixtures. */
let ownBook: { account: Account; handoff: Handoff };
let otherBook: { account: Account; handoff: Handoff };
const fixtureActor: Actor = { userId: null, role: 'admin', label: 'Authorization fixtures' };
const crm: Actor = { userId: null, role: 'integration', label: 'CRM' };
const run = Date.now().toString(36);
let sequence = 0;
const unique = (prefix: string) => `${prefix}-${run}-${++sequence}`;

function person(role: string): User {
  const found = people.get(role);
  if (!found) throw new Error(`no ${role} in the fixture`);
  return found;
}

function dayIn(days: number): string {
  return new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);
}

async function closedWon(owners: { aeId: string | null; csmId: string | null }, name = unique('Authz Co')): Promise<{ account: Account; handoff: Handoff }> {
  const result = await recordClosedWon(db, {
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

type HandoffStep = 'pending' | 'confirmed' | 'accepted' | 'kickoff_scheduled';

/** A handoff brought to a status by an admin, so the step under test is the next one. */
async function handoffAt(status: HandoffStep, owners: { aeId: string | null; csmId: string | null }): Promise<Handoff> {
  const { handoff } = await closedWon(owners);
  if (status === 'pending') return handoff;
  await confirmHandoff(db, { handoffId: handoff.id, actor: fixtureActor });
  if (status === 'confirmed') return (await handoffById(handoff.id)) ?? handoff;
  await acceptHandoff(db, { handoffId: handoff.id, actor: fixtureActor });
  if (status === 'accepted') return (await handoffById(handoff.id)) ?? handoff;
  await scheduleKickoff(db, { handoffId: handoff.id, actor: fixtureActor, kickoffAt: new Date(Date.now() + DAY_MS) });
  return (await handoffById(handoff.id)) ?? handoff;
}

async function handoffById(id: string): Promise<Handoff | undefined> {
  const [row] = await db.select().from(handoffs).where(eq(handoffs.id, id));
  return row;
}

async function accountById(id: string): Promise<Account | undefined> {
  const [row] = await db.select().from(accounts).where(eq(accounts.id, id));
  return row;
}

async function markAtRisk(accountId: string): Promise<void> {
  await db
    .insert(accountHealth)
    .values({ accountId, score: 45, status: 'at_risk', scoreDayAgo: 62, scoreWeekAgo: 70, reasons: ['Weekly active users fell 40%'], computedAt: new Date(), modelVersion: 1 });
}

beforeAll(async () => {
  stack = await startFaultStack({ replicas: 1, env: { LIFELINE_JOBS: 'off' } });
  db = stack.database.db;
  for (const role of PEOPLE_ROLES) {
    const user = await createUser(db, { role, name: `Authz ${role}`, slackUserId: `UAUTHZ${role.toUpperCase()}` });
    people.set(role, user);
    tokens.set(role, await createToken(db, role, user));
  }
  tokens.set('integration', await createToken(db, 'integration'));
  otherCsm = await createUser(db, { role: 'csm', name: 'Authz other CSM' });
  otherAe = await createUser(db, { role: 'ae', name: 'Authz other AE' });
  ownBook = await closedWon({ aeId: person('ae').id, csmId: person('csm').id }, `Authz Book Own ${run}`);
  otherBook = await closedWon({ aeId: otherAe.id, csmId: otherCsm.id }, `Authz Book Other ${run}`);
  await markAtRisk(ownBook.account.id);
  await markAtRisk(otherBook.account.id);
  await defineStage(db, { actor: fixtureActor, key: `authz_${run}`, name: 'Authz target', position: 900, ownerRole: 'csm', entryCriteria: '', exitCriteria: '', slaDays: null, terminal: false });
});
afterAll(async () => {
  await stack?.teardown();
});

// ---------------------------------------------------------------------------
// GraphQL
// ---------------------------------------------------------------------------

interface GraphqlAttempt {
  query: string;
  variables?: Record<string, unknown>;
  /** What an allowed answer must show (e.g. an AE's list holds only their own accounts); a problem, or nothing. */
  verify?: (data: Record<string, unknown>) => string | undefined;
  /** Whether the mutation's change is in the database: true after an allowed call, false after a refused one. */
  changed?: () => Promise<boolean>;
}

interface GraphqlCase {
  field: string;
  variant?: string;
  expect: (role: TokenRole) => Expectation;
  prepare: (role: TokenRole) => Promise<GraphqlAttempt>;
}

function ids(list: unknown, pick: (item: Record<string, unknown>) => unknown): string[] {
  return Array.isArray(list) ? list.map((item) => String(pick(item))) : [];
}

/** A listing must show the other people's account to everyone who reads all, and hide it from the AE. */
function narrowedFor(role: TokenRole, listed: string[]): string | undefined {
  const own = listed.includes(ownBook.account.id);
  const other = listed.includes(otherBook.account.id);
  if (!own) return 'the own account is missing';
  if (role === 'ae' && other) return "an AE sees an account they did not sell";
  if (role !== 'ae' && !other) return 'the other account is missing';
  return undefined;
}

const accountOf = (item: Record<string, unknown>) => Reflect.get(Reflect.get(item, 'account') ?? {}, 'id');

function exists(probe: () => Promise<unknown[]>): () => Promise<boolean> {
  return async () => (await probe()).length > 0;
}

/**
 * An ingestion mutation on a fresh account, keyed by the source system's id (`$ext`): it changed the database when
 * `rowsWith` finds a row with that id.
 */
function ingestedByExternalId(field: string, prefix: string, query: string, rowsWith: (externalId: string) => Promise<unknown[]>): GraphqlCase {
  return {
    field,
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db);
      const externalId = unique(prefix);
      return { query, variables: { id: account.id, ext: externalId }, changed: exists(() => rowsWith(externalId)) };
    },
  };
}

const graphqlCases: GraphqlCase[] = [
  // Queries
  { field: 'viewer', expect: only(...ROLES), prepare: async (role) => ({ query: '{ viewer { role } }', verify: (data) => (Reflect.get(data.viewer ?? {}, 'role') === role ? undefined : 'wrong role') }) },
  { field: 'stages', expect: readers, prepare: async () => ({ query: '{ stages { key } }', verify: (data) => (ids(data.stages, (stage) => stage.key).includes('onboarding') ? undefined : 'no stages') }) },
  { field: 'users', expect: readers, prepare: async () => ({ query: '{ users { id } }', verify: (data) => (ids(data.users, (user) => user.id).includes(person('csm').id) ? undefined : 'people missing') }) },
  { field: 'healthSettings', expect: readers, prepare: async () => ({ query: '{ healthSettings { scope } }', verify: (data) => (ids(data.healthSettings, (row) => row.scope).length === 4 ? undefined : 'scopes missing') }) },
  { field: 'metrics', expect: supervisors, prepare: async () => ({ query: '{ metrics(from: "2026-01-01", to: "2026-03-31") { groups { key } } }' }) },
  { field: 'notifications', expect: supervisors, prepare: async () => ({ query: '{ notifications(first: 5) { id } }' }) },
  {
    field: 'accounts',
    expect: readers,
    prepare: async (role) => ({
      query: 'query ($search: String) { accounts(first: 100, filter: { search: $search }) { edges { node { id } } } }',
      variables: { search: `Authz Book` },
      verify: (data) => narrowedFor(role, ids(Reflect.get(data.accounts ?? {}, 'edges'), (edge) => Reflect.get(edge.node ?? {}, 'id'))),
    }),
  },
  {
    field: 'account',
    variant: 'own account',
    expect: readers,
    prepare: async () => ({ query: 'query ($id: ID!) { account(id: $id) { id } }', variables: { id: ownBook.account.id } }),
  },
  {
    field: 'account',
    variant: "other people's account",
    expect: (role) => (role === 'ae' ? 'hidden' : readers(role)),
    prepare: async () => ({ query: 'query ($id: ID!) { account(id: $id) { id } }', variables: { id: otherBook.account.id } }),
  },
  { field: 'handoffs', expect: readers, prepare: async (role) => ({ query: '{ handoffs { account { id } } }', verify: (data) => narrowedFor(role, ids(data.handoffs, accountOf)) }) },
  {
    field: 'handoff',
    variant: 'own handoff',
    expect: readers,
    prepare: async () => ({ query: 'query ($id: ID!) { handoff(id: $id) { id } }', variables: { id: ownBook.handoff.id } }),
  },
  {
    field: 'handoff',
    variant: "other people's handoff",
    expect: (role) => (role === 'ae' ? 'hidden' : readers(role)),
    prepare: async () => ({ query: 'query ($id: ID!) { handoff(id: $id) { id } }', variables: { id: otherBook.handoff.id } }),
  },
  { field: 'renewals', expect: readers, prepare: async (role) => ({ query: '{ renewals(withinDays: 365) { account { id } } }', verify: (data) => narrowedFor(role, ids(data.renewals, accountOf)) }) },
  { field: 'atRisk', expect: readers, prepare: async (role) => ({ query: '{ atRisk(first: 100) { account { id } } }', verify: (data) => narrowedFor(role, ids(data.atRisk, accountOf)) }) },

  // Handoff steps
  ...(
    [
      ['own handoff', () => person('ae').id, only('admin', 'manager', 'ae')],
      ["another AE's handoff", () => otherAe.id, supervisors],
    ] as const
  ).map(
    ([variant, aeId, expect]): GraphqlCase => ({
      field: 'confirmHandoff',
      variant,
      expect,
      prepare: async () => {
        const handoff = await handoffAt('pending', { aeId: aeId(), csmId: person('csm').id });
        return {
          query: 'mutation ($id: ID!) { confirmHandoff(handoffId: $id) { status } }',
          variables: { id: handoff.id },
          changed: async () => (await handoffById(handoff.id))?.status === 'confirmed',
        };
      },
    }),
  ),
  ...(
    [
      ['own handoff', () => person('csm').id, only('admin', 'manager', 'csm')],
      ["another CSM's handoff", () => otherCsm.id, supervisors],
      ['handoff without a CSM', () => null, only('admin', 'manager', 'csm')],
    ] as const
  ).map(
    ([variant, csmId, expect]): GraphqlCase => ({
      field: 'acceptHandoff',
      variant,
      expect,
      prepare: async () => {
        const handoff = await handoffAt('confirmed', { aeId: person('ae').id, csmId: csmId() });
        return {
          query: 'mutation ($id: ID!) { acceptHandoff(handoffId: $id) { status } }',
          variables: { id: handoff.id },
          changed: async () => (await handoffById(handoff.id))?.status === 'accepted',
        };
      },
    }),
  ),
  ...(
    [
      ['own handoff', () => person('csm').id, only('admin', 'manager', 'csm')],
      ["another CSM's handoff", () => otherCsm.id, supervisors],
    ] as const
  ).flatMap(([variant, csmId, expect]): GraphqlCase[] => [
    {
      field: 'scheduleKickoff',
      variant,
      expect,
      prepare: async () => {
        const handoff = await handoffAt('accepted', { aeId: person('ae').id, csmId: csmId() });
        return {
          query: 'mutation ($id: ID!, $at: DateTime!) { scheduleKickoff(handoffId: $id, kickoffAt: $at) { status } }',
          variables: { id: handoff.id, at: new Date(Date.now() + 3 * DAY_MS).toISOString() },
          changed: async () => (await handoffById(handoff.id))?.status === 'kickoff_scheduled',
        };
      },
    },
    {
      field: 'completeHandoff',
      variant,
      expect,
      prepare: async () => {
        const handoff = await handoffAt('kickoff_scheduled', { aeId: person('ae').id, csmId: csmId() });
        return {
          query: 'mutation ($id: ID!) { completeHandoff(handoffId: $id) { status } }',
          variables: { id: handoff.id },
          changed: async () => (await handoffById(handoff.id))?.status === 'completed',
        };
      },
    },
  ]),

  // Stage moves
  ...(
    [
      ["the CSM's own account", 'onboarding', 'implementation', () => ({ csmId: person('csm').id, aeId: otherAe.id }), only('admin', 'manager', 'csm')],
      ["another CSM's account", 'onboarding', 'implementation', () => ({ csmId: otherCsm.id, aeId: otherAe.id }), supervisors],
      ["the AE's own account in Pre-onboarding", 'pre_onboarding', 'onboarding', () => ({ csmId: otherCsm.id, aeId: person('ae').id }), only('admin', 'manager', 'ae')],
      ["the AE's own account past Pre-onboarding", 'onboarding', 'implementation', () => ({ csmId: otherCsm.id, aeId: person('ae').id }), supervisors],
    ] as const
  ).map(
    ([variant, from, to, owners, expect]): GraphqlCase => ({
      field: 'moveAccountStage',
      variant,
      expect,
      prepare: async () => {
        const account = await createAccount(db, { stageKey: from, ...owners() });
        return {
          query: 'mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { account { version } } }',
          variables: { input: { accountId: account.id, toStage: to, expectedVersion: 1 } },
          changed: async () => (await accountById(account.id))?.stageKey === to,
        };
      },
    }),
  ),

  // Administration
  {
    field: 'createApiToken',
    expect: admins,
    prepare: async () => {
      const name = unique('authz token');
      return {
        query: 'mutation ($name: String!) { createApiToken(name: $name, role: integration) { token } }',
        variables: { name },
        changed: exists(() => db.select().from(apiTokens).where(eq(apiTokens.name, name))),
      };
    },
  },
  {
    field: 'revokeApiToken',
    expect: admins,
    prepare: async () => {
      const { record } = await createApiToken(db, { name: unique('authz revocable'), role: 'integration' });
      return {
        query: 'mutation ($id: ID!) { revokeApiToken(tokenId: $id) { revokedAt } }',
        variables: { id: record.id },
        changed: exists(() => db.select().from(apiTokens).where(and(eq(apiTokens.id, record.id), isNotNull(apiTokens.revokedAt)))),
      };
    },
  },
  {
    field: 'defineStage',
    expect: admins,
    prepare: async () => {
      sequence += 1;
      const key = `authz_${run}_${sequence}`;
      return {
        query: 'mutation ($input: DefineStageInput!) { defineStage(input: $input) { key } }',
        variables: { input: { key, name: 'Authz extra', position: 1000 + sequence, ownerRole: 'csm' } },
        changed: exists(() => db.select().from(lifecycleStages).where(eq(lifecycleStages.key, key))),
      };
    },
  },
  {
    field: 'updateStage',
    expect: admins,
    prepare: async () => {
      const name = unique('Authz renamed').slice(0, 60);
      return {
        query: 'mutation ($input: UpdateStageInput!) { updateStage(input: $input) { name } }',
        variables: { input: { key: `authz_${run}`, name } },
        changed: exists(() => db.select().from(lifecycleStages).where(eq(lifecycleStages.name, name))),
      };
    },
  },
  {
    field: 'linkSlackUser',
    expect: admins,
    prepare: async () => {
      const someone = await createUser(db, { slackUserId: null });
      sequence += 1;
      const slackUserId = `UAUTHZLINK${sequence}`;
      return {
        query: 'mutation ($id: ID!, $slack: String) { linkSlackUser(userId: $id, slackUserId: $slack) { slackUserId } }',
        variables: { id: someone.id, slack: slackUserId },
        changed: exists(() => db.select().from(users).where(eq(users.slackUserId, slackUserId))),
      };
    },
  },
  {
    field: 'upsertPeople',
    expect: admins,
    prepare: async () => {
      const email = `${unique('authz-person')}@example.test`;
      return {
        query: 'mutation ($people: [PersonInput!]!) { upsertPeople(people: $people) { created } }',
        variables: { people: [{ email, name: 'Authz Newcomer', role: 'viewer' }] },
        changed: exists(() => db.select().from(users).where(eq(users.email, email))),
      };
    },
  },
  {
    field: 'runJob',
    expect: admins,
    prepare: async () => {
      const before = await manualRuns();
      return { query: 'mutation { runJob(name: "renewals") { status } }', changed: async () => (await manualRuns()) > before };
    },
  },
  {
    field: 'updateHealthSettings',
    expect: admins,
    prepare: async () => {
      sequence += 1;
      const usage = 10 + (sequence % 50);
      return {
        query: 'mutation ($w: HealthWeightsInput!) { updateHealthSettings(scope: "enterprise", weights: $w, healthyMin: 70, atRiskMin: 40) { scope } }',
        variables: { w: { usage, support: 25, nps: 20, engagement: 15 } },
        changed: async () => {
          const [row] = await db.select().from(healthSettings).where(eq(healthSettings.scope, 'enterprise'));
          return row?.weights.usage === usage;
        },
      };
    },
  },
  {
    field: 'requeueNotification',
    expect: supervisors,
    prepare: async () => {
      // Written parked from the start: enqueued as pending, a delivery worker could claim it before it was parked
      // here, and park it again after the requeue below.
      const [row] = await db
        .insert(outbox)
        .values({ kind: 'alert', dedupeKey: unique('authz:parked'), target: 'CAUTHZPARKED', payload: {}, status: 'parked', lastError: 'Slack refused the message: channel_not_found' })
        .returning();
      if (!row) throw new Error('no outbox row');
      return {
        query: 'mutation ($id: ID!) { requeueNotification(id: $id) { status } }',
        variables: { id: String(row.id) },
        // Requeued: pending again, or already claimed by a delivery worker since (which may have parked it again,
        // since the channel still does not exist; a parked row that was never retried has no attempts).
        changed: exists(() => db.select().from(outbox).where(and(eq(outbox.id, row.id), or(eq(outbox.status, 'pending'), gt(outbox.attempts, 0))))),
      };
    },
  },

  // Ingestion
  {
    field: 'recordClosedWon',
    expect: ingesters,
    prepare: async () => {
      const opportunityId = unique('authz-opp');
      return {
        query: 'mutation ($input: RecordClosedWonInput!) { recordClosedWon(input: $input) { created } }',
        variables: { input: { opportunityId, account: { externalId: unique('authz-cw'), name: 'Won Co', segment: 'smb', arrCents: 100 }, closedWonAt: '2026-11-01T10:00:00Z' } },
        changed: exists(() => db.select().from(handoffs).where(eq(handoffs.opportunityId, opportunityId))),
      };
    },
  },
  {
    field: 'upsertAccounts',
    expect: ingesters,
    prepare: async () => {
      const externalId = unique('authz-upsert');
      return {
        query: 'mutation ($accounts: [UpsertAccountInput!]!) { upsertAccounts(accounts: $accounts) { created } }',
        variables: { accounts: [{ externalId, name: 'Upserted Co', segment: 'smb', arrCents: 100 }] },
        changed: exists(() => db.select().from(accounts).where(eq(accounts.externalId, externalId))),
      };
    },
  },
  {
    field: 'recordUsage',
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db);
      return {
        query: 'mutation ($rows: [UsageDayInput!]!) { recordUsage(rows: $rows) { written } }',
        variables: { rows: [{ accountId: account.id, day: '2026-11-20', activeUsers: 3, seats: 10 }] },
        changed: exists(() => db.select().from(usageDaily).where(eq(usageDaily.accountId, account.id))),
      };
    },
  },
  {
    field: 'recordTouches',
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db);
      const externalId = unique('authz-touch');
      return {
        query: 'mutation ($rows: [TouchInput!]!) { recordTouches(rows: $rows) { written } }',
        variables: { rows: [{ accountId: account.id, kind: 'call', occurredAt: '2026-11-20T10:00:00Z', externalId }] },
        changed: exists(() => db.select().from(csmTouches).where(eq(csmTouches.externalId, externalId))),
      };
    },
  },
  ingestedByExternalId('recordTicket', 'authz-zd', 'mutation ($id: ID, $ext: String) { recordTicket(accountId: $id, externalId: $ext, severity: low, subject: "Typo", openedAt: "2026-11-21T09:00:00Z") { id } }', (externalId) => db.select().from(tickets).where(eq(tickets.externalId, externalId))),
  {
    field: 'resolveTicket',
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db);
      const externalId = unique('authz-open');
      await recordTicket(db, { actor: crm, accountId: account.id, externalId, severity: 'low', subject: 'Open', openedAt: new Date('2026-11-20T09:00:00Z') });
      return {
        query: 'mutation ($ext: String) { resolveTicket(externalId: $ext, resolvedAt: "2026-11-22T10:00:00Z") { resolvedAt } }',
        variables: { ext: externalId },
        changed: async () => {
          const [ticket] = await db.select().from(tickets).where(eq(tickets.externalId, externalId));
          return ticket?.resolvedAt !== null && ticket?.resolvedAt !== undefined;
        },
      };
    },
  },
  ingestedByExternalId('recordNps', 'authz-nps', 'mutation ($id: ID, $ext: String) { recordNps(accountId: $id, externalId: $ext, score: 9, respondedAt: "2026-11-22T09:00:00Z") { id } }', (externalId) => db.select().from(surveyResponses).where(eq(surveyResponses.externalId, externalId))),
  ingestedByExternalId('recordRevenueChange', 'authz-mrr', 'mutation ($id: ID, $ext: String) { recordRevenueChange(accountId: $id, externalId: $ext, kind: new, mrrDeltaCents: 10000, effectiveDate: "2026-11-01") { id } }', (externalId) => db.select().from(revenueChanges).where(eq(revenueChanges.externalId, externalId))),
  {
    field: 'recordFirstValue',
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db);
      return {
        query: 'mutation ($id: ID) { recordFirstValue(accountId: $id, reachedAt: "2026-11-22T09:00:00Z") { accountId } }',
        variables: { id: account.id },
        changed: exists(() => db.select().from(firstValues).where(eq(firstValues.accountId, account.id))),
      };
    },
  },
];

async function manualRuns(): Promise<number> {
  const [row] = await db.select({ total: count() }).from(jobRuns).where(eq(jobRuns.trigger, 'manual'));
  return row?.total ?? 0;
}

// ---------------------------------------------------------------------------
// Slack
// ---------------------------------------------------------------------------

type SlackActor = UserRole | 'unlinked';
const SLACK_ACTORS: SlackActor[] = [...PEOPLE_ROLES, 'unlinked'];
const UNLINKED_SLACK_USER = 'UAUTHZNOBODY';
const everyoneLinked = only(...PEOPLE_ROLES);
const readsOwn = everyoneLinked;
const readsOthers = only('admin', 'manager', 'csm', 'viewer');

interface SlackContext {
  /** Tags everything this one request causes: its response_url, its trigger_id, the channel it came from. */
  tag: string;
  userId: string;
  responseUrl: string;
  channel: string;
}

interface SlackAttempt {
  send(): Promise<SlackHttpResponse>;
  /** The change or the content an allowed request produces. */
  effect(calls: RecordedCall[]): Promise<boolean> | boolean;
  /** What an allowed answer must (not) show, e.g. an AE's digest page holds only their accounts. */
  verify?(calls: RecordedCall[]): string | undefined;
  /** Content (an account id or name) that must not reach the person when the request is not allowed. */
  secret?: string;
}

interface SlackCase {
  /** `action:<action_id>`, `view:<callback_id>`, `command:/lifeline <subcommand>` or `event:<type>`. */
  entry: string;
  variant?: string;
  expect: (actor: SlackActor) => Expectation;
  prepare: (context: SlackContext) => Promise<SlackAttempt>;
}

function slackUserOf(actor: SlackActor): string {
  return actor === 'unlinked' ? UNLINKED_SLACK_USER : (person(actor).slackUserId ?? '');
}

const ephemeralContainer = (channel: string) => ({ type: 'message' as const, channelId: channel, messageTs: '1700000000.000100', isEphemeral: true });

function replies(context: SlackContext, calls: RecordedCall[]): RecordedCall[] {
  return calls.filter((call) => call.responseId === context.tag);
}

/** The content an answer shows (blocks and views), where an account's details would be. */
function shown(call: RecordedCall): string {
  return JSON.stringify([call.body.blocks ?? null, call.body.view ?? null]);
}

const repliedWith = (context: SlackContext, needle: string) => (calls: RecordedCall[]) => replies(context, calls).some((call) => call.outcome === 'ok' && shown(call).includes(needle));
const modalOpened = (context: SlackContext) => (calls: RecordedCall[]) => calls.some((call) => call.method === 'views.open' && call.body.trigger_id === context.tag && call.outcome === 'ok');

function button(context: SlackContext, actionId: string, value: string, blockId = 'authz'): () => Promise<SlackHttpResponse> {
  return () =>
    client().blockAction(
      buttonAction({ userId: context.userId, actionId, blockId, value, responseUrl: context.responseUrl, container: ephemeralContainer(context.channel), triggerId: context.tag }),
    );
}

function command(context: SlackContext, text: string): () => Promise<SlackHttpResponse> {
  return () => client().command(slashCommand({ text, user_id: context.userId, response_url: context.responseUrl, channel_id: context.channel, trigger_id: context.tag }));
}

function client() {
  const found = stack.slackClients[0];
  if (!found) throw new Error('no replica');
  return found;
}

const digestValue = (accountId: string) => encodeDigestValue({ accountId, csmId: null, page: 0 });

async function followUp(accountId: string) {
  const [row] = await db.select().from(atRiskFollowUps).where(eq(atRiskFollowUps.accountId, accountId));
  return row;
}

/** The digest, the at-risk list, App Home: the AE's shows only accounts they sold; everyone else's shows all. */
const bookVerifier = (actor: SlackActor, context: SlackContext, options: { othersSeeAll: boolean }) => (calls: RecordedCall[]) => {
  const content = calls.filter((call) => call.responseId === context.tag || call.method === 'views.publish').map(shown).join('');
  if (actor === 'ae' && content.includes(otherBook.account.id)) return 'an AE was shown an account they did not sell';
  if (options.othersSeeAll && actor !== 'ae' && !content.includes(otherBook.account.id)) return 'the other account is missing';
  return undefined;
};

const moveVariants = [
  ["the CSM's own account", 'onboarding', 'implementation', () => ({ csmId: person('csm').id, aeId: otherAe.id }), only('admin', 'manager', 'csm')],
  ["another CSM's account", 'onboarding', 'implementation', () => ({ csmId: otherCsm.id, aeId: otherAe.id }), supervisors],
  ["the AE's own account in Pre-onboarding", 'pre_onboarding', 'onboarding', () => ({ csmId: otherCsm.id, aeId: person('ae').id }), only('admin', 'manager', 'ae')],
] as const;

const bookVariants = [
  ['own account', () => ownBook.account, readsOwn],
  ["other people's account", () => otherBook.account, readsOthers],
] as const;

const reasonValues: ViewStateValues = { [FieldIds.reason]: { [INPUT_ACTION]: { type: 'plain_text_input', value: 'Checked by the authorization scenario' } } };
const contextValues: ViewStateValues = Object.fromEntries(
  [FieldIds.goals, FieldIds.promises, FieldIds.stakeholders, FieldIds.risks].map((field) => [field, { [INPUT_ACTION]: { type: 'plain_text_input', value: `Authz ${field}` } }]),
);

const slackCases: SlackCase[] = [
  // Reading an account: a card for the person who asked, or one shared in the channel.
  ...bookVariants.flatMap(([variant, account, expect]): SlackCase[] => [
    {
      entry: `action:${ActionIds.openAccount}`,
      variant,
      expect,
      prepare: async (context) => ({ send: button(context, ActionIds.openAccount, account().id), effect: repliedWith(context, account().id), secret: account().id }),
    },
    {
      entry: `action:${ActionIds.digestOpenAccount}`,
      variant,
      expect,
      prepare: async (context) => ({ send: button(context, ActionIds.digestOpenAccount, digestValue(account().id)), effect: repliedWith(context, account().id), secret: account().id }),
    },
    {
      entry: `action:${ActionIds.shareCard}`,
      variant,
      expect,
      prepare: async (context) => ({
        send: button(context, ActionIds.shareCard, account().id),
        // Shared through the click's response_url, which works where the bot is not a member of the conversation.
        effect: (calls) =>
          replies(context, calls).some((call) => call.outcome === 'ok' && call.body.response_type === 'in_channel' && shown(call).includes(account().name)),
        secret: account().id,
      }),
    },
    {
      entry: 'command:/lifeline account',
      variant,
      // Searching for an account one may not read finds nothing, as the API answers null for it.
      expect: (actor) => (expect(actor) === 'denied' && actor !== 'unlinked' ? 'hidden' : expect(actor)),
      prepare: async (context) => ({ send: command(context, `account ${account().name}`), effect: repliedWith(context, account().id), secret: account().id }),
    },
  ]),

  // Stage moves, on a card and in the reason modal.
  ...moveVariants.flatMap(([variant, from, to, owners, expect]): SlackCase[] => [
    {
      entry: `action:${ActionIds.stageSelect}`,
      variant,
      expect,
      prepare: async (context) => {
        const account = await createAccount(db, { stageKey: from, ...owners() });
        return {
          send: () =>
            client().blockAction(
              staticSelectAction({ userId: context.userId, actionId: ActionIds.stageSelect, blockId: cardBlockId(account.id, 1), selectedValue: to, responseUrl: context.responseUrl, container: ephemeralContainer(context.channel), triggerId: context.tag }),
            ),
          effect: async () => (await accountById(account.id))?.stageKey === to,
        };
      },
    },
    {
      entry: `view:${CallbackIds.stageMove}`,
      variant,
      expect,
      prepare: async (context) => {
        const account = await createAccount(db, { stageKey: from, ...owners() });
        return {
          send: () =>
            client().viewSubmission(
              viewSubmissionPayload({ userId: context.userId, callbackId: CallbackIds.stageMove, privateMetadata: JSON.stringify({ accountId: account.id, version: 1, toStage: to }), values: reasonValues }),
            ),
          effect: async () => (await accountById(account.id))?.stageKey === to,
        };
      },
    },
    {
      entry: `action:${ActionIds.digestMoveStage}`,
      variant,
      expect,
      prepare: async (context) => {
        const account = await createAccount(db, { stageKey: from, ...owners() });
        return { send: button(context, ActionIds.digestMoveStage, digestValue(account.id)), effect: modalOpened(context), secret: account.name };
      },
    },
  ]),

  // Handoffs: the AE confirms (or edits and confirms), the CSM accepts and schedules the kickoff.
  ...(
    [
      ['own handoff', () => person('ae').id, only('admin', 'manager', 'ae')],
      ["another AE's handoff", () => otherAe.id, supervisors],
    ] as const
  ).flatMap(([variant, aeId, expect]): SlackCase[] => [
    {
      entry: `action:${ActionIds.handoffConfirm}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('pending', { aeId: aeId(), csmId: person('csm').id });
        return { send: button(context, ActionIds.handoffConfirm, handoff.id, `handoff:${handoff.id}:1`), effect: async () => (await handoffById(handoff.id))?.status === 'confirmed' };
      },
    },
    {
      entry: `action:${ActionIds.handoffEdit}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('pending', { aeId: aeId(), csmId: person('csm').id });
        const account = await accountById(handoff.accountId);
        return { send: button(context, ActionIds.handoffEdit, handoff.id, `handoff:${handoff.id}:1`), effect: modalOpened(context), ...(account ? { secret: account.name } : {}) };
      },
    },
    {
      entry: `view:${CallbackIds.handoffContext}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('pending', { aeId: aeId(), csmId: person('csm').id });
        return {
          send: () => client().viewSubmission(viewSubmissionPayload({ userId: context.userId, callbackId: CallbackIds.handoffContext, privateMetadata: JSON.stringify({ handoffId: handoff.id }), values: contextValues })),
          effect: async () => (await handoffById(handoff.id))?.status === 'confirmed',
        };
      },
    },
  ]),
  ...(
    [
      ['own handoff', () => person('csm').id, only('admin', 'manager', 'csm')],
      ["another CSM's handoff", () => otherCsm.id, supervisors],
      ['handoff without a CSM', () => null, only('admin', 'manager', 'csm')],
    ] as const
  ).map(
    ([variant, csmId, expect]): SlackCase => ({
      entry: `action:${ActionIds.handoffAccept}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('confirmed', { aeId: person('ae').id, csmId: csmId() });
        return { send: button(context, ActionIds.handoffAccept, handoff.id, `handoff:${handoff.id}:${handoff.version}`), effect: async () => (await handoffById(handoff.id))?.status === 'accepted' };
      },
    }),
  ),
  ...(
    [
      ['own handoff', () => person('csm').id, only('admin', 'manager', 'csm')],
      ["another CSM's handoff", () => otherCsm.id, supervisors],
    ] as const
  ).map(
    ([variant, csmId, expect]): SlackCase => ({
      entry: `action:${ActionIds.handoffKickoff}`,
      variant,
      expect,
      prepare: async (context) => {
        const handoff = await handoffAt('accepted', { aeId: person('ae').id, csmId: csmId() });
        const blockId = `handoff:${handoff.id}:${handoff.version}`;
        const base = buttonAction({ userId: context.userId, actionId: ActionIds.handoffKickoff, blockId, value: '', responseUrl: context.responseUrl, container: ephemeralContainer(context.channel), triggerId: context.tag });
        const picked: BlockAction<DatepickerAction> = {
          ...base,
          actions: [{ type: 'datepicker', action_id: ActionIds.handoffKickoff, block_id: blockId, selected_date: dayIn(3), action_ts: '1700000000.1' }],
        };
        return { send: () => client().blockAction(picked), effect: async () => (await handoffById(handoff.id))?.status === 'kickoff_scheduled' };
      },
    }),
  ),

  // The at-risk digest: follow-up on one's own accounts; pages for everyone, narrowed for AEs.
  ...(
    [
      ['own account', () => person('csm').id, only('admin', 'manager', 'csm')],
      ["another CSM's account", () => otherCsm.id, supervisors],
    ] as const
  ).flatMap(([variant, csmId, expect]): SlackCase[] => [
    {
      entry: `action:${ActionIds.digestAcknowledge}`,
      variant,
      expect,
      prepare: async (context) => {
        const account = await createAccount(db, { csmId: csmId() });
        return { send: button(context, ActionIds.digestAcknowledge, digestValue(account.id)), effect: async () => Boolean((await followUp(account.id))?.acknowledgedAt) };
      },
    },
    {
      entry: `action:${ActionIds.digestSnooze}`,
      variant,
      expect,
      prepare: async (context) => {
        const account = await createAccount(db, { csmId: csmId() });
        return { send: button(context, ActionIds.digestSnooze, digestValue(account.id)), effect: async () => Boolean((await followUp(account.id))?.snoozedUntil) };
      },
    },
  ]),
  {
    entry: `action:${ActionIds.digestShowMore}`,
    expect: everyoneLinked,
    prepare: async (context) => ({
      send: button(context, ActionIds.digestShowMore, encodeDigestValue({ accountId: '', csmId: null, page: 0 })),
      effect: (calls) => replies(context, calls).some((call) => String(call.body.text ?? '').startsWith('At-risk digest')),
      verify: (calls) => bookVerifier(actorOf(context), context, { othersSeeAll: true })(calls.filter((call) => call.responseId === context.tag)),
    }),
  },

  // The slash command's own answers: about the person's own book.
  ...['', 'help', 'at-risk', 'atrisk', 'renewals'].map(
    (subcommand): SlackCase => ({
      entry: `command:/lifeline ${subcommand}`.trimEnd(),
      expect: everyoneLinked,
      prepare: async (context) => ({
        send: command(context, subcommand),
        effect: (calls) => replies(context, calls).some((call) => call.outcome === 'ok' && call.body.response_type === 'ephemeral' && call.body.replace_original === undefined),
        verify: (calls) => bookVerifier(actorOf(context), context, { othersSeeAll: false })(calls.filter((call) => call.responseId === context.tag)),
      }),
    }),
  ),

  // App Home: the person's book; an unlinked person is told to get linked.
  {
    entry: 'event:app_home_opened',
    expect: everyoneLinked,
    prepare: async (context) => ({
      send: () => client().event(appHomeOpenedEvent({ userId: context.userId })),
      effect: (calls) => calls.some((call) => call.method === 'views.publish' && call.body.user_id === context.userId && call.outcome === 'ok' && !shown(call).includes('not linked')),
      verify: (calls) => bookVerifier(actorOf(context), context, { othersSeeAll: false })(calls.filter((call) => call.method === 'views.publish' && call.body.user_id === context.userId)),
    }),
  },
];

const actorsByUser = new Map<string, SlackActor>();
function actorOf(context: SlackContext): SlackActor {
  return actorsByUser.get(context.userId) ?? 'unlinked';
}

/** Every Slack entry point the bot registers, read from its listener modules, so a new one must be classified. */
async function registeredEntries(): Promise<string[]> {
  const listenerDir = `${projectRoot}bot/listeners`;
  const kinds = await readdir(listenerDir);
  const entries: string[] = [];
  const source = (kind: string) => readFile(`${listenerDir}/${kind}/index.ts`, 'utf8');
  for (const kind of kinds) {
    const text = await source(kind);
    if (kind === 'actions') {
      for (const [, key] of text.matchAll(/ActionIds\.(\w+)/g)) entries.push(`action:${Reflect.get(ActionIds, key ?? '')}`);
    } else if (kind === 'views') {
      for (const [, key] of text.matchAll(/CallbackIds\.(\w+)/g)) entries.push(`view:${Reflect.get(CallbackIds, key ?? '')}`);
    } else if (kind === 'commands') {
      const commandModule = await readFile(`${listenerDir}/commands/lifeline.ts`, 'utf8');
      for (const [, name] of text.matchAll(/app\.command\('([^']+)'/g)) {
        for (const [, subcommand] of commandModule.matchAll(/case '([^']*)':/g)) entries.push(`command:${name} ${subcommand}`.trimEnd());
      }
    } else if (kind === 'events') {
      for (const [, type] of text.matchAll(/app\.event\('([^']+)'/g)) entries.push(`event:${type}`);
    } else {
      entries.push(`unknown listener kind: ${kind}`);
    }
    for (const [, method] of text.matchAll(/app\.(shortcut|options|message|function)\(/g)) entries.push(`unclassified app.${method} in ${kind}`);
  }
  // Ids defined for the bot but not registered would be classified for nothing: list them too.
  for (const id of Object.values(ActionIds)) entries.push(`action:${id}`);
  for (const id of Object.values(CallbackIds)) entries.push(`view:${id}`);
  return [...new Set(entries)];
}

interface Tally {
  tried: number;
  allowed: number;
  denied: number;
  failures: string[];
}

async function graphql(token: string, query: string, variables: Record<string, unknown> = {}) {
  const replica = stack.replicas[0];
  if (!replica) throw new Error('no replica');
  const response = await fetch(`${replica.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(20_000),
  });
  const body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] } = await response.json();
  return { status: response.status, body };
}

function tokenOf(role: TokenRole): string {
  const token = tokens.get(role);
  if (!token) throw new Error(`no ${role} token`);
  return token;
}

/** An answer that refuses for a reason about who is asking: a role, an owner, a missing Slack link. */
const AUTHORIZATION_REFUSAL = /not linked|only|cannot|can't|not one of|your role/i;

function refusalIn(context: SlackContext, calls: RecordedCall[], ack: SlackHttpResponse): string | undefined {
  for (const call of replies(context, calls)) {
    // app.error's answer: ephemeral, beside the original, words only.
    if (call.body.response_type === 'ephemeral' && call.body.replace_original === false && call.body.blocks === undefined && typeof call.body.text === 'string') return call.body.text;
  }
  if (ack.text.startsWith('{')) {
    // A modal is answered in the ack: the form replaced by a "Nothing changed" notice, or errors on its inputs.
    const answer: unknown = JSON.parse(ack.text);
    if (typeof answer === 'object' && answer !== null) {
      const action = Reflect.get(answer, 'response_action');
      if (action === 'update') return JSON.stringify(Reflect.get(answer, 'view'));
      if (action === 'errors') return JSON.stringify(Reflect.get(answer, 'errors'));
    }
  }
  for (const call of calls) {
    if (call.method === 'views.publish' && call.body.user_id === context.userId && shown(call).includes('not linked')) return 'App Home: not linked to Lifeline';
  }
  return undefined;
}

async function trySlack(slackCase: SlackCase, actor: SlackActor, index: number): Promise<{ outcome: string; problems: string[] }> {
  const tag = `authz-${index}`;
  const context: SlackContext = { tag, userId: slackUserOf(actor), responseUrl: stack.fake.responseUrl(tag), channel: `CAUTHZ${index}` };
  const attempt = await slackCase.prepare(context);
  const ack = await attempt.send();
  const problems: string[] = [];
  if (ack.status !== 200) problems.push(`answered HTTP ${ack.status}`);
  const expected = slackCase.expect(actor);
  const deadline = Date.now() + 8_000;
  let outcome = 'no answer';
  let related: RecordedCall[] = [];
  for (;;) {
    related = stack.fake.calls.filter(
      (call) =>
        call.responseId === tag ||
        call.body.trigger_id === tag ||
        call.body.channel === context.channel ||
        (slackCase.entry.startsWith('event:') && call.method === 'views.publish' && call.body.user_id === context.userId),
    );
    const refusal = refusalIn(context, related, ack);
    const effect = await attempt.effect(related);
    if (effect && refusal) outcome = `changed and refused: ${refusal}`;
    else if (effect) outcome = 'allowed';
    else if (refusal) outcome = AUTHORIZATION_REFUSAL.test(refusal) ? 'denied' : `refused for another reason: ${refusal.slice(0, 200)}`;
    else if (replies(context, related).length > 0 && expected === 'hidden') outcome = 'hidden';
    if (outcome !== 'no answer' || Date.now() > deadline) break;
    await sleep(40);
  }
  if (outcome !== expected) problems.push(`expected ${expected}, got ${outcome}`);
  if (outcome === 'allowed' && attempt.verify) {
    const problem = attempt.verify(related);
    if (problem) problems.push(problem);
  }
  if (outcome !== 'allowed' && attempt.secret && related.some((call) => shown(call).includes(attempt.secret ?? ''))) problems.push('showed what it refused');
  return { outcome, problems };
}

describe('authorization', () => {
  it('every GraphQL query and mutation of the live schema, tried by every role: only the allowed ones succeed', async () => {
    const introspection = await graphql(tokenOf('admin'), '{ __schema { queryType { fields { name } } mutationType { fields { name } } } }');
    const schemaFields = (kind: 'queryType' | 'mutationType') => ids(Reflect.get(Reflect.get(introspection.body.data?.__schema ?? {}, kind) ?? {}, 'fields'), (field) => field.name);
    const live = [...schemaFields('queryType'), ...schemaFields('mutationType')];
    const classified = new Set(graphqlCases.map((graphqlCase) => graphqlCase.field));
    const unclassified = live.filter((field) => !classified.has(field));
    const stale = [...classified].filter((field) => !live.includes(field));

    const tally: Tally = { tried: 0, allowed: 0, denied: 0, failures: [] };
    for (const graphqlCase of graphqlCases) {
      for (const role of ROLES) {
        const attempt = await graphqlCase.prepare(role);
        const expected = graphqlCase.expect(role);
        const { status, body } = await graphql(tokenOf(role), attempt.query, attempt.variables);
        const error = body.errors?.[0];
        const value = body.data?.[graphqlCase.field];
        const outcome = error ? (error.extensions?.code === 'FORBIDDEN' ? 'denied' : `${error.extensions?.code ?? status}: ${error.message}`) : value === null || value === undefined ? 'hidden' : 'allowed';
        const problems: string[] = [];
        if (outcome !== expected) problems.push(`expected ${expected}, got ${outcome}`);
        if (outcome === 'allowed' && attempt.verify && body.data) {
          const problem = attempt.verify(body.data);
          if (problem) problems.push(problem);
        }
        if (attempt.changed) {
          const changed = await attempt.changed();
          if (changed !== (expected === 'allowed')) problems.push(changed ? 'the database changed' : 'the database did not change');
        }
        tally.tried += 1;
        if (problems.length > 0) tally.failures.push(`${graphqlCase.field}${graphqlCase.variant ? ` (${graphqlCase.variant})` : ''} as ${role}: ${problems.join('; ')}`);
        else if (expected === 'allowed') tally.allowed += 1;
        else tally.denied += 1;
      }
    }
    await recordScenario({
      scenario: '8a. authorization: GraphQL (every root field × role)',
      repetitions: tally.tried,
      // Who may do what: no notifications are counted here, only what each role was allowed or refused.
      expected: 'n/a',
      delivered: 'n/a',
      duplicated: 'n/a',
      rejected: tally.denied,
      failures: tally.failures.length + unclassified.length + stale.length,
      note: `${live.length} root fields, ${graphqlCases.length} cases × ${ROLES.length} roles: ${tally.allowed} allowed, ${tally.denied} refused or hidden as expected`,
    });
    expect(unclassified, 'root fields without a declared expectation').toEqual([]);
    expect(stale, 'expectations for fields the schema no longer has').toEqual([]);
    expect(tally.failures).toEqual([]);
  });

  it('every Slack action, modal, command and event, tried by every role and by an unlinked Slack user: only the allowed ones change anything', async () => {
    for (const role of PEOPLE_ROLES) actorsByUser.set(slackUserOf(role), role);
    const registered = await registeredEntries();
    const classified = new Set(slackCases.map((slackCase) => slackCase.entry));
    const unclassified = registered.filter((entry) => !classified.has(entry));
    const stale = [...classified].filter((entry) => !registered.includes(entry));

    const tally: Tally = { tried: 0, allowed: 0, denied: 0, failures: [] };
    const attempts = slackCases.flatMap((slackCase) => SLACK_ACTORS.map((actor) => ({ slackCase, actor })));
    let next = 0;
    // A few at a time, like a busy afternoon; each request has fixtures of its own.
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < attempts.length) {
          const index = next++;
          const item = attempts[index];
          if (!item) break;
          const { outcome, problems } = await trySlack(item.slackCase, item.actor, index);
          const expected = item.slackCase.expect(item.actor);
          tally.tried += 1;
          if (problems.length > 0) tally.failures.push(`${item.slackCase.entry}${item.slackCase.variant ? ` (${item.slackCase.variant})` : ''} as ${item.actor}: ${problems.join('; ')}`);
          else if (expected === 'allowed' && outcome === 'allowed') tally.allowed += 1;
          else tally.denied += 1;
        }
      }),
    );
    tally.failures.sort();
    await recordScenario({
      scenario: '8b. authorization: Slack (every entry point × role, unlinked)',
      repetitions: tally.tried,
      // Who may do what: no notifications are counted here, only what each role was allowed or refused.
      expected: 'n/a',
      delivered: 'n/a',
      duplicated: 'n/a',
      rejected: tally.denied,
      failures: tally.failures.length + unclassified.length + stale.length,
      note: `${classified.size} entry points, ${slackCases.length} cases × ${SLACK_ACTORS.length} people: ${tally.allowed} allowed, ${tally.denied} refused or hidden as expected`,
    });
    expect(unclassified, 'Slack entry points without a declared expectation').toEqual([]);
    expect(stale, 'expectations for entry points the bot no longer registers').toEqual([]);
    expect(tally.failures).toEqual([]);
  });
});
