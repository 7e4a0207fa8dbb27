import { and, count, eq, gt, isNotNull, or } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  type HandoffStatus,
  type TokenRole,
  accounts,
  apiTokens,
  contacts,
  csmSentiments,
  csmTouches,
  firstValues,
  handoffs,
  healthSettings,
  jobRuns,
  churnReasons,
  lifecycleStages,
  outbox,
  playbookRuns,
  playbooks,
  renewalCalls,
  renewalOutcomes,
  renewals,
  revenueChanges,
  surveyResponses,
  type Task,
  tasks,
  tickets,
  usageDaily,
  users,
  webhookEndpoints,
} from '../../db/schema.ts';
import { createWebhookEndpoint } from '../../domain/webhooks.ts';
import type { Actor } from '../../domain/actors.ts';
import { DAY_MS } from '../../domain/dates.ts';
import { upsertContacts } from '../../domain/people/contacts.ts';
import { startPlaybook } from '../../domain/plays/playbook-runs.ts';
import { definePlaybook } from '../../domain/plays/playbooks.ts';
import { createTask } from '../../domain/plays/tasks.ts';
import { recordRenewalOutcome } from '../../domain/renewals/outcomes.ts';
import { acceptLead } from '../../domain/leads.ts';
import { recordTicket } from '../../domain/signals.ts';
import { createApiToken } from '../../domain/tokens.ts';
import { createAccount, createUser } from '../support/factories.ts';
import {
  type Book,
  type Expectation,
  type HandoffStep,
  type OwnerVariant,
  type StageMoveVariant,
  ROLES,
  Tally,
  acceptVariants,
  admins,
  aeHandoffVariants,
  classification,
  crm,
  csmVariants,
  dayIn,
  db,
  expansionSignal,
  leadOfSignal,
  leadStatusIs,
  leadVariants,
  qualifiedLead,
  fixtureStageKey,
  handoffAt,
  ingesters,
  movedTo,
  nextNumber,
  only,
  openRenewal,
  RENEWAL_ARR_CENTS,
  renewalVariants,
  otherAe,
  otherBook,
  otherCsm,
  ownBook,
  person,
  reached,
  readers,
  reportAuthorization,
  run,
  stack,
  stageMoveVariants,
  supervisors,
  tokenOf,
  unique,
  useAuthorizationFixture,
} from './support/authorization.ts';

// Every GraphQL root field of the live schema, tried with a token of every role: what each may read and change.

useAuthorizationFixture();

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
  const own = listed.includes(ownBook().account.id);
  const other = listed.includes(otherBook().account.id);
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
      const account = await createAccount(db());
      const externalId = unique(prefix);
      return { query, variables: { id: account.id, ext: externalId }, changed: exists(() => rowsWith(externalId)) };
    },
  };
}

/** One record read by id: everyone who reads sees the own book's; an AE is not shown other people's. */
function readById(field: 'account' | 'handoff', idIn: (book: Book) => string): GraphqlCase[] {
  const query = `query ($id: ID!) { ${field}(id: $id) { id } }`;
  return [
    { field, variant: `own ${field}`, expect: readers, prepare: async () => ({ query, variables: { id: idIn(ownBook()) } }) },
    {
      field,
      variant: `other people's ${field}`,
      expect: (role) => (role === 'ae' ? 'hidden' : readers(role)),
      prepare: async () => ({ query, variables: { id: idIn(otherBook()) } }),
    },
  ];
}

/** The variant's AE sold the deal, or the variant's CSM takes it on; the other owner is the fixture's own. */
const aeOwns = (aeId: string | null) => ({ aeId, csmId: person('csm').id });
const csmOwns = (csmId: string | null) => ({ aeId: person('ae').id, csmId });

/**
 * A handoff step as a mutation: each attempt takes a handoff of its own, brought to `from` and owned as the variant
 * says, and the step changed the database when the handoff `reaches` the next status.
 */
function handoffStep(
  field: string,
  [variant, owner, expect]: OwnerVariant,
  step: {
    from: HandoffStep;
    owners: (owner: string | null) => { aeId: string | null; csmId: string | null };
    reaches: HandoffStatus;
    query?: string;
    variables?: () => Record<string, unknown>;
  },
): GraphqlCase {
  return {
    field,
    variant,
    expect,
    prepare: async () => {
      const handoff = await handoffAt(step.from, step.owners(owner()));
      return {
        query: step.query ?? `mutation ($id: ID!) { ${field}(handoffId: $id) { status } }`,
        variables: { id: handoff.id, ...step.variables?.() },
        changed: reached(handoff.id, step.reaches),
      };
    },
  };
}

/** Past Pre-onboarding an account is no longer the AE's to move. */
const pastPreOnboarding: StageMoveVariant = [
  "the AE's own account past Pre-onboarding",
  'onboarding',
  'implementation',
  () => ({ csmId: otherCsm().id, aeId: person('ae').id }),
  supervisors,
];

const taskFixtureActor: Actor = { userId: null, role: 'admin', label: 'Authz fixture' };

/** A task an admin gave to `ownerId` on `accountId`, due tomorrow: made the way people make them, not inserted. */
async function taskOn(accountId: string, ownerId: string): Promise<Task> {
  return createTask(db(), { accountId, ownerId, title: unique('Authz task'), dueOn: dayIn(1), actor: taskFixtureActor, now: new Date() });
}

async function taskById(id: string): Promise<Task | undefined> {
  const [row] = await db().select().from(tasks).where(eq(tasks.id, id));
  return row;
}

/**
 * Who acts on a task (done, snooze, reassign, cancel): admins, its owner, the account's CSM, a manager (nobody
 * reports to anyone in the fixture), an AE only on a task given to them. Each attempt acts on a task of its own,
 * on an account of its own owned as the variant says.
 */
type TaskVariant = readonly [variant: string, owners: () => { csmId: string; aeId: string }, owner: () => string, expect: (role: string) => Expectation];

const taskVariants: readonly TaskVariant[] = [
  ["the CSM's own task on their account", () => ({ csmId: person('csm').id, aeId: person('ae').id }), () => person('csm').id, only('admin', 'manager', 'csm')],
  ["a task given to the AE on the CSM's account", () => ({ csmId: person('csm').id, aeId: person('ae').id }), () => person('ae').id, only('admin', 'manager', 'csm', 'ae')],
  ["another CSM's task on their account", () => ({ csmId: otherCsm().id, aeId: otherAe().id }), () => otherCsm().id, supervisors],
];

/** A change to a task as a mutation; it changed the database when `made` holds for the task row afterwards. */
function taskChange(field: string, args: { query: string; variables?: () => Record<string, unknown>; made: (task: Task, before: Task) => boolean }): GraphqlCase[] {
  return taskVariants.map(([variant, owners, owner, expect]) => ({
    field,
    variant,
    expect,
    prepare: async () => {
      const account = await createAccount(db(), owners());
      const task = await taskOn(account.id, owner());
      return {
        query: args.query,
        variables: { id: task.id, ...args.variables?.() },
        changed: async () => {
          const now = await taskById(task.id);
          return now !== undefined && args.made(now, task);
        },
      };
    },
  }));
}

/** One task read by id: everyone who reads sees it, except an AE shown a task neither theirs nor on an account they sold. */
const taskReads: readonly (readonly [variant: string, where: () => string, owner: () => string, expect: (role: TokenRole) => Expectation])[] = [
  ["the own book's task", () => ownBook().account.id, () => person('csm').id, readers],
  ["another book's task", () => otherBook().account.id, () => otherCsm().id, (role) => (role === 'ae' ? 'hidden' : readers(role))],
  ["a task given to the AE on another book's account", () => otherBook().account.id, () => person('ae').id, readers],
];

/**
 * Who starts or closes a playbook run by hand: admins, the account's CSM, a manager (nobody reports to anyone in the
 * fixture). Each attempt takes an account of its own, so one that went through leaves nothing running for the next.
 */
const playbookRunVariants: readonly (readonly [variant: string, csm: () => string, expect: (role: string) => Expectation])[] = [
  ["the CSM's own account", () => person('csm').id, only('admin', 'manager', 'csm')],
  ["another CSM's account", () => otherCsm().id, supervisors],
];

/** A manual-only playbook an admin defined, for the edits to work on. */
async function fixturePlaybook() {
  return definePlaybook(db(), {
    key: `authz_${run}_${nextNumber()}`,
    name: unique('Authz playbook').slice(0, 90),
    triggers: ['manual'],
    steps: [{ title: 'Authz step', ownerRole: 'csm', dueInDays: 3 }],
    actor: taskFixtureActor,
  });
}

async function currentOutcomeArr(renewalId: string): Promise<number | undefined> {
  const rows = await db().select().from(renewalOutcomes).where(eq(renewalOutcomes.renewalId, renewalId));
  return rows.find((row) => row.supersededAt === null)?.newArrCents;
}

const renewalCases: GraphqlCase[] = renewalVariants.flatMap(([variant, owners, expect]): GraphqlCase[] => [
  {
    field: 'callRenewal',
    variant,
    expect,
    prepare: async () => {
      const renewal = await openRenewal(owners());
      return {
        query: 'mutation ($input: CallRenewalInput!) { callRenewal(input: $input) { id } }',
        variables: { input: { renewalId: renewal.id, call: 'likely', note: 'Budget approved' } },
        changed: exists(() => db().select().from(renewalCalls).where(eq(renewalCalls.renewalId, renewal.id))),
      };
    },
  },
  {
    field: 'recordRenewalOutcome',
    variant,
    expect,
    prepare: async () => {
      const renewal = await openRenewal(owners());
      return {
        query: 'mutation ($input: RenewalOutcomeInput!) { recordRenewalOutcome(input: $input) { outcome { outcome } } }',
        variables: { input: { renewalId: renewal.id, outcome: 'renewed', newContractEnd: dayIn(395), newArrCents: RENEWAL_ARR_CENTS + 120_000 } },
        changed: exists(() => db().select().from(renewalOutcomes).where(eq(renewalOutcomes.renewalId, renewal.id))),
      };
    },
  },
  {
    field: 'correctRenewalOutcome',
    variant,
    expect: supervisors,
    prepare: async () => {
      const renewal = await openRenewal(owners());
      await recordRenewalOutcome(db(), { renewalId: renewal.id, outcome: 'renewed', newContractEnd: dayIn(395), newArrCents: RENEWAL_ARR_CENTS, actor: taskFixtureActor });
      const corrected = RENEWAL_ARR_CENTS + 240_000;
      return {
        query: 'mutation ($input: RenewalOutcomeInput!) { correctRenewalOutcome(input: $input) { outcome { newArrCents } } }',
        variables: { input: { renewalId: renewal.id, outcome: 'renewed', newContractEnd: dayIn(395), newArrCents: corrected } },
        changed: async () => (await currentOutcomeArr(renewal.id)) === corrected,
      };
    },
  },
]);

const leadCases: GraphqlCase[] = leadVariants.flatMap(([variant, owners, qualifies, answers]): GraphqlCase[] => [
  {
    field: 'qualifyLead',
    variant,
    expect: qualifies,
    prepare: async () => {
      const signal = await expansionSignal(owners());
      return {
        query: 'mutation ($input: QualifyLeadInput!) { qualifyLead(input: $input) { created } }',
        variables: { input: { firingId: String(signal.firingId), wants: 'More seats', estimatedMrrCents: 50_000, urgency: 'high' } },
        changed: leadOfSignal(signal.firingId),
      };
    },
  },
  {
    field: 'acceptLead',
    variant,
    expect: answers,
    prepare: async () => {
      const lead = await qualifiedLead(owners());
      return { query: 'mutation ($id: ID!) { acceptLead(leadId: $id) { status } }', variables: { id: lead.id }, changed: leadStatusIs(lead.id, 'accepted') };
    },
  },
  {
    field: 'declineLead',
    variant,
    expect: answers,
    prepare: async () => {
      const lead = await qualifiedLead(owners());
      return { query: 'mutation ($id: ID!) { declineLead(leadId: $id, reason: "Already in their plan") { status } }', variables: { id: lead.id }, changed: leadStatusIs(lead.id, 'declined') };
    },
  },
  {
    field: 'markLeadLost',
    variant,
    expect: answers,
    prepare: async () => {
      const lead = await qualifiedLead(owners());
      await acceptLead(db(), { leadId: lead.id, actor: taskFixtureActor });
      return { query: 'mutation ($id: ID!) { markLeadLost(leadId: $id, reason: "Budget frozen") { status } }', variables: { id: lead.id }, changed: leadStatusIs(lead.id, 'lost') };
    },
  },
]);

/** Adding a task for oneself (no ownerId): on the own book's account, and on another book's. */
const createTaskVariants: readonly (readonly [variant: string, book: () => Book, expect: (role: string) => Expectation])[] = [
  ["the own book's account", ownBook, only('admin', 'manager', 'csm', 'ae')],
  ["another book's account", otherBook, supervisors],
];

/**
 * People on the customer's side (contacts, sentiment): changed by the account's CSM, a manager (nobody reports to
 * anyone in the fixture) or an admin. Each attempt acts on an account of its own, sold by the fixture's AE, so the
 * AE reads it and is refused the change.
 */
function peopleChange(field: string, change: (account: { id: string }) => Promise<Omit<GraphqlAttempt, 'verify'>>): GraphqlCase[] {
  return csmVariants('account').map(([variant, owner, expect]) => ({
    field,
    variant,
    expect,
    prepare: async () => change(await createAccount(db(), { csmId: owner(), aeId: person('ae').id })),
  }));
}

const contactsQuery = 'query ($id: ID!) { contacts(accountId: $id) { id } }';

const edgeIds = (connection: unknown) => ids(Reflect.get(connection ?? {}, 'edges'), (edge) => Reflect.get(edge.node ?? {}, 'id'));

/** Endpoints the webhook cases start from; they subscribe to the digest only, which these scenarios never queue. */
const webhookAdmin: Actor = { userId: null, role: 'admin', label: 'Authorization fixtures' };

const graphqlCases: GraphqlCase[] = [
  // Queries
  { field: 'viewer', expect: only(...ROLES), prepare: async (role) => ({ query: '{ viewer { role } }', verify: (data) => (Reflect.get(data.viewer ?? {}, 'role') === role ? undefined : 'wrong role') }) },
  { field: 'stages', expect: readers, prepare: async () => ({ query: '{ stages { key } }', verify: (data) => (ids(data.stages, (stage) => stage.key).includes('onboarding') ? undefined : 'no stages') }) },
  { field: 'churnReasons', expect: readers, prepare: async () => ({ query: '{ churnReasons { key } }', verify: (data) => (ids(data.churnReasons, (reason) => reason.key).includes('budget') ? undefined : 'no churn reasons') }) },
  { field: 'users', expect: readers, prepare: async () => ({ query: '{ users { id } }', verify: (data) => (ids(data.users, (user) => user.id).includes(person('csm').id) ? undefined : 'people missing') }) },
  { field: 'healthSettings', expect: readers, prepare: async () => ({ query: '{ healthSettings { scope } }', verify: (data) => (ids(data.healthSettings, (row) => row.scope).length === 4 ? undefined : 'scopes missing') }) },
  { field: 'leadMetrics', expect: supervisors, prepare: async () => ({ query: `{ leadMetrics(from: "${dayIn(-30)}", to: "${dayIn(0)}") { created won } }` }) },
  {
    field: 'leads',
    expect: readers,
    prepare: async (role) => {
      const own = await qualifiedLead({ csmId: person('csm').id, aeId: person('ae').id });
      const others = await qualifiedLead({ csmId: otherCsm().id, aeId: otherAe().id });
      return {
        query: '{ leads(first: 100, status: qualified) { edges { node { id } } } }',
        verify: (data) => {
          const listed = edgeIds(data.leads);
          if (!listed.includes(own.id)) return "the own book's lead is missing";
          if (role === 'ae' && listed.includes(others.id)) return "an AE sees another book's lead";
          if (role !== 'ae' && !listed.includes(others.id)) return "another book's lead is missing";
          return undefined;
        },
      };
    },
  },
  { field: 'renewalForecast', expect: supervisors, prepare: async () => ({ query: `{ renewalForecast(from: "${dayIn(-365)}", to: "${dayIn(365)}") { groups { key arrUpCents } } }` }) },
  { field: 'metrics', expect: supervisors, prepare: async () => ({ query: '{ metrics(from: "2026-01-01", to: "2026-03-31") { groups { key } } }' }) },
  { field: 'retentionSeries', expect: supervisors, prepare: async () => ({ query: '{ retentionSeries(months: 3) { groups { key months { month } } } }' }) },
  {
    field: 'healthCalibration',
    expect: supervisors,
    prepare: async () => ({ query: `{ healthCalibration(from: "${dayIn(-120)}", to: "${dayIn(0)}") { conclusive statuses { status accountDays } } }` }),
  },
  { field: 'team', expect: supervisors, prepare: async () => ({ query: '{ team { accounts } }' }) },
  { field: 'taskMetrics', expect: supervisors, prepare: async () => ({ query: '{ taskMetrics(from: "2026-01-01", to: "2026-03-31", groupBy: owner) { total { created } } }' }) },
  { field: 'playbookEffectiveness', expect: supervisors, prepare: async () => ({ query: '{ playbookEffectiveness(from: "2026-01-01", to: "2026-03-31") { playbooks { playbookId comparable } } }' }) },
  {
    field: 'accountBreakdown',
    expect: readers,
    prepare: async (role) => ({
      query: 'query ($ownerId: ID) { accountBreakdown(ownerId: $ownerId) { accounts } }',
      variables: { ownerId: otherAe().id },
      // The other AE's sales hold accounts; an account executive who did not sell them counts none of them.
      verify: (data) => {
        const total = ids(data.accountBreakdown, (cell) => String(cell.accounts)).reduce((sum, count) => sum + Number(count), 0);
        return role === 'ae' ? (total === 0 ? undefined : 'an AE counted accounts they did not sell') : total > 0 ? undefined : 'the book counted nothing';
      },
    }),
  },
  { field: 'notifications', expect: supervisors, prepare: async () => ({ query: '{ notifications(first: 5) { id } }' }) },
  // Webhook endpoints carry their receivers' URLs and the deliveries carry account data: admins only.
  { field: 'webhookEndpoints', expect: admins, prepare: async () => ({ query: '{ webhookEndpoints { id } }' }) },
  { field: 'webhookDeliveries', expect: admins, prepare: async () => ({ query: '{ webhookDeliveries(first: 5) { edges { node { id } } } }' }) },
  {
    field: 'accounts',
    expect: readers,
    prepare: async (role) => ({
      query: 'query ($search: String) { accounts(first: 100, filter: { search: $search }) { edges { node { id } } } }',
      variables: { search: `Authz Book` },
      verify: (data) => narrowedFor(role, ids(Reflect.get(data.accounts ?? {}, 'edges'), (edge) => Reflect.get(edge.node ?? {}, 'id'))),
    }),
  },
  ...readById('account', (book) => book.account.id),
  { field: 'handoffs', expect: readers, prepare: async (role) => ({ query: '{ handoffs { account { id } } }', verify: (data) => narrowedFor(role, ids(data.handoffs, accountOf)) }) },
  ...readById('handoff', (book) => book.handoff.id),
  { field: 'renewals', expect: readers, prepare: async (role) => ({ query: '{ renewals(withinDays: 365) { account { id } } }', verify: (data) => narrowedFor(role, ids(data.renewals, accountOf)) }) },
  { field: 'atRisk', expect: readers, prepare: async (role) => ({ query: '{ atRisk(first: 100) { account { id } } }', verify: (data) => narrowedFor(role, ids(data.atRisk, accountOf)) }) },

  // Tasks: read as accounts are read (an AE sees the tasks of accounts they sold and the ones given to them)
  ...taskReads.map(
    ([variant, where, owner, expect]): GraphqlCase => ({
      field: 'task',
      variant,
      expect,
      prepare: async () => {
        const task = await taskOn(where(), owner());
        return { query: 'query ($id: ID!) { task(id: $id) { id } }', variables: { id: task.id } };
      },
    }),
  ),
  {
    field: 'tasks',
    expect: readers,
    prepare: async (role) => {
      const own = await taskOn(ownBook().account.id, person('csm').id);
      const given = await taskOn(otherBook().account.id, person('ae').id);
      const others = await taskOn(otherBook().account.id, otherCsm().id);
      return {
        query:
          'query ($own: ID!, $other: ID!) { tasks(first: 50, filter: { accountId: $own, state: open }) { edges { node { id } } } other: tasks(first: 50, filter: { accountId: $other, state: open }) { edges { node { id } } } }',
        variables: { own: ownBook().account.id, other: otherBook().account.id },
        verify: (data) => {
          const listed = [...edgeIds(data.tasks), ...edgeIds(data.other)];
          if (!listed.includes(own.id)) return "the own book's task is missing";
          if (!listed.includes(given.id)) return 'the task given to the AE is missing';
          if (role === 'ae' && listed.includes(others.id)) return "an AE sees another book's task not given to them";
          if (role !== 'ae' && !listed.includes(others.id)) return "another book's task is missing";
          return undefined;
        },
      };
    },
  },
  // Playbooks: everyone who reads lists them; admins define, edit and retire them; a run starts and closes by hand
  // for the account's CSM, a manager and admins. Onboarding progress compares CSMs' work: managers and admins.
  { field: 'playbooks', expect: readers, prepare: async () => ({ query: '{ playbooks { key } }', verify: (data) => (ids(data.playbooks, (p) => p.key).includes('onboarding') ? undefined : 'default playbooks missing') }) },
  { field: 'onboardingProgress', expect: supervisors, prepare: async () => ({ query: '{ onboardingProgress { milestonesDue } }' }) },
  {
    field: 'definePlaybook',
    expect: admins,
    prepare: async () => {
      const key = `authz_${run}_${nextNumber()}`;
      return {
        query: 'mutation ($input: DefinePlaybookInput!) { definePlaybook(input: $input) { key } }',
        variables: { input: { key, name: 'Authz defined', triggers: ['manual'], steps: [{ title: 'Authz step', ownerRole: 'csm', dueInDays: 1 }] } },
        changed: exists(() => db().select().from(playbooks).where(eq(playbooks.key, key))),
      };
    },
  },
  {
    field: 'updatePlaybook',
    expect: admins,
    prepare: async () => {
      const { playbook } = await fixturePlaybook();
      return {
        query: 'mutation ($id: ID!) { updatePlaybook(playbookId: $id, expectedVersion: 1, input: { name: "Authz renamed playbook" }) { version } }',
        variables: { id: playbook.id },
        changed: exists(() => db().select().from(playbooks).where(and(eq(playbooks.id, playbook.id), eq(playbooks.version, 2)))),
      };
    },
  },
  {
    field: 'retirePlaybook',
    expect: admins,
    prepare: async () => {
      const { playbook } = await fixturePlaybook();
      return {
        query: 'mutation ($id: ID!) { retirePlaybook(playbookId: $id) { key } }',
        variables: { id: playbook.id },
        changed: exists(() => db().select().from(playbooks).where(and(eq(playbooks.id, playbook.id), isNotNull(playbooks.retiredAt)))),
      };
    },
  },
  ...playbookRunVariants.map(
    ([variant, csm, expect]): GraphqlCase => ({
      field: 'startPlaybook',
      variant,
      expect,
      prepare: async () => {
        const account = await createAccount(db(), { csmId: csm(), aeId: person('ae').id });
        return {
          query: 'mutation ($id: ID!) { startPlaybook(accountId: $id, playbookKey: "expansion") { id } }',
          variables: { id: account.id },
          changed: exists(() => db().select().from(playbookRuns).where(eq(playbookRuns.accountId, account.id))),
        };
      },
    }),
  ),
  ...playbookRunVariants.map(
    ([variant, csm, expect]): GraphqlCase => ({
      field: 'closePlaybookRun',
      variant,
      expect,
      prepare: async () => {
        const account = await createAccount(db(), { csmId: csm(), aeId: person('ae').id });
        const { run: started } = await startPlaybook(db(), { accountId: account.id, playbookKey: 'expansion', actor: taskFixtureActor, now: new Date() });
        return {
          query: 'mutation ($id: ID!) { closePlaybookRun(runId: $id, reason: "Checked by the authorization scenario") { status } }',
          variables: { id: started.id },
          changed: exists(() => db().select().from(playbookRuns).where(and(eq(playbookRuns.id, started.id), eq(playbookRuns.status, 'closed')))),
        };
      },
    }),
  ),
  ...createTaskVariants.map(
    ([variant, book, expect]): GraphqlCase => ({
      field: 'createTask',
      variant,
      expect,
      prepare: async () => {
        const title = unique('Authz added task');
        return {
          query: 'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }',
          variables: { input: { accountId: book().account.id, title, dueOn: dayIn(1) } },
          changed: exists(() => db().select().from(tasks).where(eq(tasks.title, title))),
        };
      },
    }),
  ),
  ...taskChange('completeTask', { query: 'mutation ($id: ID!) { completeTask(taskId: $id, outcomeNote: "Checked by the authorization scenario") { id } }', made: (task) => task.status === 'done' }),
  ...taskChange('snoozeTask', { query: 'mutation ($id: ID!) { snoozeTask(taskId: $id, days: 3) { id } }', made: (task) => task.status === 'snoozed' }),
  ...taskChange('reassignTask', {
    query: 'mutation ($id: ID!, $to: ID!) { reassignTask(taskId: $id, ownerId: $to) { id } }',
    variables: () => ({ to: person('admin').id }),
    made: (task, before) => task.ownerId !== before.ownerId,
  }),
  ...taskChange('cancelTask', { query: 'mutation ($id: ID!) { cancelTask(taskId: $id, reason: "Checked by the authorization scenario") { id } }', made: (task) => task.status === 'cancelled' }),

  // People on the customer's side: read as the account is; changed by its CSM, a manager or an admin
  { field: 'contacts', variant: "own account's contacts", expect: readers, prepare: async () => ({ query: contactsQuery, variables: { id: ownBook().account.id } }) },
  {
    field: 'contacts',
    variant: "other people's account's contacts",
    expect: (role) => (role === 'ae' ? 'hidden' : readers(role)),
    prepare: async () => ({ query: contactsQuery, variables: { id: otherBook().account.id } }),
  },
  ...peopleChange('upsertContacts', async (account) => {
    const email = `${unique('authz-contact')}@customer.example`;
    return {
      query: 'mutation ($rows: [ContactInput!]!) { upsertContacts(contacts: $rows) { created } }',
      variables: { rows: [{ accountId: account.id, name: 'Authz Contact', email, role: 'champion' }] },
      changed: exists(() => db().select().from(contacts).where(eq(contacts.email, email))),
    };
  }),
  ...peopleChange('markContactLeft', async (account) => {
    const { contacts: [champion] } = await upsertContacts(db(), {
      actor: taskFixtureActor,
      contacts: [{ accountId: account.id, name: 'Authz Champion', email: `${unique('authz-champion')}@customer.example`, role: 'champion' }],
    });
    if (!champion) throw new Error('no champion');
    return {
      query: 'mutation ($id: ID!) { markContactLeft(contactId: $id) { championLeftSignal } }',
      variables: { id: champion.id },
      changed: exists(() => db().select().from(contacts).where(and(eq(contacts.id, champion.id), isNotNull(contacts.leftAt)))),
    };
  }),
  ...peopleChange('setSentiment', async (account) => ({
    query: 'mutation ($id: ID!) { setSentiment(accountId: $id, sentiment: negative, note: "Checked by the authorization scenario") { sentiment } }',
    variables: { id: account.id },
    changed: exists(() => db().select().from(csmSentiments).where(eq(csmSentiments.accountId, account.id))),
  })),

  // Handoff steps
  ...aeHandoffVariants.map((variant) => handoffStep('confirmHandoff', variant, { from: 'pending', owners: aeOwns, reaches: 'confirmed' })),
  ...acceptVariants.map((variant) => handoffStep('acceptHandoff', variant, { from: 'confirmed', owners: csmOwns, reaches: 'accepted' })),
  ...csmVariants('handoff').flatMap((variant) => [
    handoffStep('scheduleKickoff', variant, {
      from: 'accepted',
      owners: csmOwns,
      reaches: 'kickoff_scheduled',
      query: 'mutation ($id: ID!, $at: DateTime!) { scheduleKickoff(handoffId: $id, kickoffAt: $at) { status } }',
      variables: () => ({ at: new Date(Date.now() + 3 * DAY_MS).toISOString() }),
    }),
    handoffStep('completeHandoff', variant, { from: 'kickoff_scheduled', owners: csmOwns, reaches: 'completed' }),
  ]),

  // Stage moves
  ...[...stageMoveVariants, pastPreOnboarding].map(
    ([variant, from, to, owners, expect]): GraphqlCase => ({
      field: 'moveAccountStage',
      variant,
      expect,
      prepare: async () => {
        const account = await createAccount(db(), { stageKey: from, ...owners() });
        return {
          query: 'mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { account { version } } }',
          variables: { input: { accountId: account.id, toStage: to, expectedVersion: 1 } },
          changed: movedTo(account.id, to),
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
        changed: exists(() => db().select().from(apiTokens).where(eq(apiTokens.name, name))),
      };
    },
  },
  {
    field: 'revokeApiToken',
    expect: admins,
    prepare: async () => {
      const { record } = await createApiToken(db(), { name: unique('authz revocable'), role: 'integration' });
      return {
        query: 'mutation ($id: ID!) { revokeApiToken(tokenId: $id) { revokedAt } }',
        variables: { id: record.id },
        changed: exists(() => db().select().from(apiTokens).where(and(eq(apiTokens.id, record.id), isNotNull(apiTokens.revokedAt)))),
      };
    },
  },
  {
    field: 'defineStage',
    expect: admins,
    prepare: async () => {
      const n = nextNumber();
      const key = `authz_${run}_${n}`;
      return {
        query: 'mutation ($input: DefineStageInput!) { defineStage(input: $input) { key } }',
        variables: { input: { key, name: 'Authz extra', position: 1000 + n, ownerRole: 'csm' } },
        changed: exists(() => db().select().from(lifecycleStages).where(eq(lifecycleStages.key, key))),
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
        variables: { input: { key: fixtureStageKey, name } },
        changed: exists(() => db().select().from(lifecycleStages).where(eq(lifecycleStages.name, name))),
      };
    },
  },
  {
    field: 'defineChurnReason',
    expect: admins,
    prepare: async () => {
      const key = `authz_${run}_${nextNumber()}`;
      return {
        query: 'mutation ($input: DefineChurnReasonInput!) { defineChurnReason(input: $input) { key } }',
        variables: { input: { key, label: 'Authz reason' } },
        changed: exists(() => db().select().from(churnReasons).where(eq(churnReasons.key, key))),
      };
    },
  },
  {
    field: 'updateChurnReason',
    expect: admins,
    prepare: async () => {
      const key = `authz_${run}_${nextNumber()}`;
      await db().insert(churnReasons).values({ key, label: 'Authz reason' });
      const label = unique('Authz relabelled').slice(0, 60);
      return {
        query: 'mutation ($input: UpdateChurnReasonInput!) { updateChurnReason(input: $input) { label } }',
        variables: { input: { key, label } },
        changed: exists(() => db().select().from(churnReasons).where(eq(churnReasons.label, label))),
      };
    },
  },
  {
    field: 'linkSlackUser',
    expect: admins,
    prepare: async () => {
      const someone = await createUser(db(), { slackUserId: null });
      const slackUserId = `UAUTHZLINK${nextNumber()}`;
      return {
        query: 'mutation ($id: ID!, $slack: String) { linkSlackUser(userId: $id, slackUserId: $slack) { slackUserId } }',
        variables: { id: someone.id, slack: slackUserId },
        changed: exists(() => db().select().from(users).where(eq(users.slackUserId, slackUserId))),
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
        changed: exists(() => db().select().from(users).where(eq(users.email, email))),
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
      const usage = 10 + (nextNumber() % 50);
      return {
        query: 'mutation ($w: HealthWeightsInput!) { updateHealthSettings(scope: "enterprise", weights: $w, healthyMin: 70, atRiskMin: 40) { scope } }',
        variables: { w: { usage, support: 25, nps: 20, engagement: 15 } },
        changed: async () => {
          const [row] = await db().select().from(healthSettings).where(eq(healthSettings.scope, 'enterprise'));
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
      const [row] = await db()
        .insert(outbox)
        .values({ kind: 'alert', dedupeKey: unique('authz:parked'), target: 'CAUTHZPARKED', payload: {}, status: 'parked', lastError: 'Slack refused the message: channel_not_found' })
        .returning();
      if (!row) throw new Error('no outbox row');
      return {
        query: 'mutation ($id: ID!) { requeueNotification(id: $id) { status } }',
        variables: { id: String(row.id) },
        // Requeued: pending again, or already claimed by a delivery worker since (which may have parked it again,
        // since the channel still does not exist; a parked row that was never retried has no attempts).
        changed: exists(() => db().select().from(outbox).where(and(eq(outbox.id, row.id), or(eq(outbox.status, 'pending'), gt(outbox.attempts, 0))))),
      };
    },
  },
  {
    field: 'createWebhookEndpoint',
    expect: admins,
    prepare: async () => {
      const url = `https://hooks.example.test/${unique('authz-hook')}`;
      return {
        query: 'mutation ($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: ["account.stage_moved"] }) { secret } }',
        variables: { url },
        changed: exists(() => db().select().from(webhookEndpoints).where(eq(webhookEndpoints.url, url))),
      };
    },
  },
  ...(['updateWebhookEndpoint', 'disableWebhookEndpoint', 'rotateWebhookSecret'] as const).map((field) => ({
    field,
    expect: admins,
    prepare: async () => {
      const { endpoint } = await createWebhookEndpoint(db(), { url: `https://hooks.example.test/${unique('authz-hook')}`, eventTypes: ['digest.at_risk'], actor: webhookAdmin });
      const query = {
        updateWebhookEndpoint: 'mutation ($id: ID!) { updateWebhookEndpoint(id: $id, input: { eventTypes: ["task.completed"] }) { id } }',
        disableWebhookEndpoint: 'mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { id } }',
        rotateWebhookSecret: 'mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret } }',
      }[field];
      return {
        query,
        variables: { id: endpoint.id },
        changed: async () => {
          const [now] = await db().select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpoint.id));
          return now !== undefined && (now.secret !== endpoint.secret || now.active !== endpoint.active || now.eventTypes.join() !== endpoint.eventTypes.join());
        },
      };
    },
  })),
  {
    field: 'replayWebhookDelivery',
    expect: admins,
    prepare: async () => {
      const { endpoint } = await createWebhookEndpoint(db(), { url: `https://hooks.example.test/${unique('authz-hook')}`, eventTypes: ['digest.at_risk'], actor: webhookAdmin });
      // Written parked from the start, like the requeued notification above.
      const [row] = await db()
        .insert(outbox)
        .values({ kind: 'webhook', dedupeKey: unique('authz:webhook'), target: `webhook:${endpoint.id}`, payload: {}, status: 'parked', lastError: 'The endpoint answered HTTP 500' })
        .returning();
      if (!row) throw new Error('no outbox row');
      return {
        query: 'mutation ($id: ID!) { replayWebhookDelivery(id: $id) { status } }',
        variables: { id: String(row.id) },
        changed: exists(() => db().select().from(outbox).where(and(eq(outbox.id, row.id), or(eq(outbox.status, 'pending'), gt(outbox.attempts, 0))))),
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
        changed: exists(() => db().select().from(handoffs).where(eq(handoffs.opportunityId, opportunityId))),
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
        changed: exists(() => db().select().from(accounts).where(eq(accounts.externalId, externalId))),
      };
    },
  },
  {
    field: 'recordUsage',
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db());
      return {
        query: 'mutation ($rows: [UsageDayInput!]!) { recordUsage(rows: $rows) { written } }',
        variables: { rows: [{ accountId: account.id, day: '2026-11-20', activeUsers: 3, seats: 10 }] },
        changed: exists(() => db().select().from(usageDaily).where(eq(usageDaily.accountId, account.id))),
      };
    },
  },
  {
    field: 'recordTouches',
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db());
      const externalId = unique('authz-touch');
      return {
        query: 'mutation ($rows: [TouchInput!]!) { recordTouches(rows: $rows) { written } }',
        variables: { rows: [{ accountId: account.id, kind: 'call', occurredAt: '2026-11-20T10:00:00Z', externalId }] },
        changed: exists(() => db().select().from(csmTouches).where(eq(csmTouches.externalId, externalId))),
      };
    },
  },
  ingestedByExternalId('recordTicket', 'authz-zd', 'mutation ($id: ID, $ext: String) { recordTicket(accountId: $id, externalId: $ext, severity: low, subject: "Typo", openedAt: "2026-11-21T09:00:00Z") { id } }', (externalId) => db().select().from(tickets).where(eq(tickets.externalId, externalId))),
  {
    field: 'resolveTicket',
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db());
      const externalId = unique('authz-open');
      await recordTicket(db(), { actor: crm, accountId: account.id, externalId, severity: 'low', subject: 'Open', openedAt: new Date('2026-11-20T09:00:00Z') });
      return {
        query: 'mutation ($ext: String) { resolveTicket(externalId: $ext, resolvedAt: "2026-11-22T10:00:00Z") { resolvedAt } }',
        variables: { ext: externalId },
        changed: async () => {
          const [ticket] = await db().select().from(tickets).where(eq(tickets.externalId, externalId));
          return ticket?.resolvedAt !== null && ticket?.resolvedAt !== undefined;
        },
      };
    },
  },
  ...renewalCases,
  ...leadCases,
  ingestedByExternalId('recordNps', 'authz-nps', 'mutation ($id: ID, $ext: String) { recordNps(accountId: $id, externalId: $ext, score: 9, respondedAt: "2026-11-22T09:00:00Z") { id } }', (externalId) => db().select().from(surveyResponses).where(eq(surveyResponses.externalId, externalId))),
  ingestedByExternalId('recordRevenueChange', 'authz-mrr', 'mutation ($id: ID, $ext: String) { recordRevenueChange(accountId: $id, externalId: $ext, kind: new, mrrDeltaCents: 10000, effectiveDate: "2026-11-01") { id } }', (externalId) => db().select().from(revenueChanges).where(eq(revenueChanges.externalId, externalId))),
  {
    field: 'recordFirstValue',
    expect: ingesters,
    prepare: async () => {
      const account = await createAccount(db());
      return {
        query: 'mutation ($id: ID) { recordFirstValue(accountId: $id, reachedAt: "2026-11-22T09:00:00Z") { accountId } }',
        variables: { id: account.id },
        changed: exists(() => db().select().from(firstValues).where(eq(firstValues.accountId, account.id))),
      };
    },
  },
];

async function manualRuns(): Promise<number> {
  const [row] = await db().select({ total: count() }).from(jobRuns).where(eq(jobRuns.trigger, 'manual'));
  return row?.total ?? 0;
}

async function graphql(token: string, query: string, variables: Record<string, unknown> = {}) {
  const replica = stack().replicas[0];
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

describe('authorization', () => {
  it('every GraphQL query and mutation of the live schema, tried by every role: only the allowed ones succeed', async () => {
    const introspection = await graphql(tokenOf('admin'), '{ __schema { queryType { fields { name } } mutationType { fields { name } } } }');
    const schemaFields = (kind: 'queryType' | 'mutationType') => ids(Reflect.get(Reflect.get(introspection.body.data?.__schema ?? {}, kind) ?? {}, 'fields'), (field) => field.name);
    const live = [...schemaFields('queryType'), ...schemaFields('mutationType')];
    const { unclassified, stale } = classification(live, new Set(graphqlCases.map((graphqlCase) => graphqlCase.field)));

    const tally = new Tally();
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
        tally.count({ name: graphqlCase.field, variant: graphqlCase.variant, as: role }, expected, problems);
      }
    }
    await reportAuthorization({
      scenario: '8a. authorization: GraphQL (every root field × role)',
      tally,
      coverage: { unclassified, stale },
      note: `${live.length} root fields, ${graphqlCases.length} cases × ${ROLES.length} roles: ${tally.allowed} allowed, ${tally.denied} refused or hidden as expected`,
      missing: 'root fields without a declared expectation',
      gone: 'expectations for fields the schema no longer has',
    });
  });
});
