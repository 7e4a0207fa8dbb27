import DataLoader from 'dataloader';
import type { Db } from '../db/client.ts';
import type { Account, Handoff, HealthSummary, LifecycleStage, Renewal, RenewalCall, RenewalOutcome, SlackEmailLookup, User } from '../db/schema.ts';
import type { AccountPageRow, ListedAccount, ListedHealth } from '../domain/accounts/listing.ts';
import { getAccountsByIds } from '../domain/accounts/reads.ts';
import type { Actor } from '../domain/actors.ts';
import { isUuid } from '../domain/validation.ts';
import { getHealthSummariesByAccountIds } from '../domain/health/queries.ts';
import { getLatestRenewalsByAccountIds, getRenewalsByIds } from '../domain/renewals/queries.ts';
import { listRenewalCalls } from '../domain/renewals/calls.ts';
import { listRenewalOutcomes } from '../domain/renewals/outcomes.ts';
import { getLatestHandoffsByAccountIds } from '../domain/handoffs/handoffs.ts';
import { readLifecycle } from '../domain/lifecycle/stages.ts';
import { type SignalsSummary, getSignalsSummaries } from '../domain/signals.ts';
import { getUsersByIds } from '../domain/users.ts';
import { type Contact, contactKey, findContactsByEmail, listContactsByAccountIds } from '../domain/people/contacts.ts';
import { relationshipReasons } from '../domain/people/relationship.ts';
import { type TaskItem, listOpenTasksByAccountIds, listTasksByRunIds } from '../domain/plays/tasks.ts';
import { type PlaybookRunItem, listPlaybookRunsByAccountIds } from '../domain/plays/playbook-runs.ts';
import { getSlackEmailLookups } from '../domain/people-links.ts';

/** Per-request batching: a page of accounts costs one statement per related kind, not one per account. */
export interface Loaders {
  user: DataLoader<string, User | null>;
  account: DataLoader<string, Account | null>;
  stage: DataLoader<string, LifecycleStage | null>;
  health: DataLoader<string, HealthSummary | null>;
  handoffByAccount: DataLoader<string, Handoff | null>;
  renewalByAccount: DataLoader<string, Renewal | null>;
  renewal: DataLoader<string, Renewal | null>;
  signals: DataLoader<string, SignalsSummary | null>;
  openTasksByAccount: DataLoader<string, TaskItem[]>;
  contactsByAccount: DataLoader<string, Contact[]>;
  /** An NPS/CSAT answer's contact, by `contactKey(accountId, email)`. */
  contactByEmail: DataLoader<string, Contact | null>;
  /** What health says beside a score about the account's people (a champion who left), as of the request. */
  relationshipReasons: DataLoader<string, string[]>;
  playbookRunsByAccount: DataLoader<string, PlaybookRunItem[]>;
  tasksByPlaybookRun: DataLoader<string, TaskItem[]>;
  /** A renewal's forecast calls, oldest first. */
  renewalCalls: DataLoader<string, RenewalCall[]>;
  /** A renewal's outcomes, corrections included, oldest first. */
  renewalOutcomes: DataLoader<string, RenewalOutcome[]>;
  slackEmailLookup: DataLoader<string, SlackEmailLookup | null>;
  /**
   * What a listing joined beside each of its accounts (stage, health, owners, renewal), keyed by the account object
   * it returned: its fields answer from here without a load, and so without a promise each.
   */
  listed: WeakMap<ListedAccount, AccountPageRow>;
  /**
   * What the account's people say beside the health reasons, read with the listing that returned this health: the
   * reasons field answers from here without a promise (a load each, for each row of a page, cost more CPU than the
   * words themselves).
   */
  listedRelationshipReasons: WeakMap<ListedHealth, string[]>;
}

function groupedBy<V>(rows: readonly V[], keyOf: (row: V) => string, keys: readonly string[]): V[][] {
  const groups = new Map<string, V[]>();
  for (const row of rows) groups.set(keyOf(row), [...(groups.get(keyOf(row)) ?? []), row]);
  return keys.map((key) => groups.get(key) ?? []);
}

function byKey<K, V>(rows: readonly V[], keyOf: (row: V) => K, keys: readonly K[]): (V | null)[] {
  const index = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => index.get(key) ?? null);
}

function groupBy<K, V>(rows: readonly V[], keyOf: (row: V) => K | null, keys: readonly K[]): V[][] {
  const groups = new Map<K, V[]>();
  for (const row of rows) {
    const key = keyOf(row);
    if (key !== null) groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return keys.map((key) => groups.get(key) ?? []);
}

/** The loaders of one request, reading as `reader`: domain leaves out what the reader may not read. */
export function createLoaders(db: Db, reader: Actor): Loaders {
  let stages: Promise<LifecycleStage[]> | undefined;
  return {
    user: new DataLoader(async (ids) => byKey(await getUsersByIds(db, ids), (user) => user.id, ids)),
    account: new DataLoader(async (ids) => byKey(await getAccountsByIds(db, { ids, reader }), (account) => account.id, ids)),
    // Stages are a handful of rows: load them all once per request.
    stage: new DataLoader(async (keys) => {
      stages ??= readLifecycle(db);
      return byKey(await stages, (stage) => stage.key, keys);
    }),
    health: new DataLoader(async (ids) => byKey(await getHealthSummariesByAccountIds(db, { accountIds: ids, reader }), (row) => row.accountId, ids)),
    handoffByAccount: new DataLoader(async (ids) => byKey(await getLatestHandoffsByAccountIds(db, { accountIds: ids, reader }), (row) => row.accountId, ids)),
    renewalByAccount: new DataLoader(async (ids) => byKey(await getLatestRenewalsByAccountIds(db, { accountIds: ids, reader }), (row) => row.accountId, ids)),
    renewal: new DataLoader(async (ids) => byKey(await getRenewalsByIds(db, { ids, reader }), (row) => row.id, ids)),
    signals: new DataLoader(async (ids) => byKey(await getSignalsSummaries(db, { accountIds: ids, reader }), (row) => row.accountId, ids)),
    openTasksByAccount: new DataLoader(async (ids) => {
      const byAccount = new Map<string, TaskItem[]>();
      for (const item of await listOpenTasksByAccountIds(db, { accountIds: ids, reader })) {
        byAccount.set(item.task.accountId, [...(byAccount.get(item.task.accountId) ?? []), item]);
      }
      return ids.map((id) => byAccount.get(id) ?? []);
    }),
    contactsByAccount: new DataLoader(async (ids) => {
      const byAccount = new Map<string, Contact[]>();
      for (const contact of await listContactsByAccountIds(db, { accountIds: ids, reader })) {
        byAccount.set(contact.accountId, [...(byAccount.get(contact.accountId) ?? []), contact]);
      }
      return ids.map((id) => byAccount.get(id) ?? []);
    }),
    contactByEmail: new DataLoader(async (keys) => {
      const wanted = keys.map((key) => {
        const at = key.indexOf('|');
        return { accountId: key.slice(0, at), email: key.slice(at + 1) };
      });
      const found = await findContactsByEmail(db, { reader, keys: wanted });
      return keys.map((key) => found.get(key) ?? null);
    }),
    relationshipReasons: new DataLoader(async (ids) => {
      const reasons = await relationshipReasons(db, { accountIds: ids, now: new Date() });
      return ids.map((id) => reasons.get(id) ?? []);
    }),
    playbookRunsByAccount: new DataLoader(async (ids) => groupBy(await listPlaybookRunsByAccountIds(db, { accountIds: ids, reader }), (item) => item.run.accountId, ids)),
    tasksByPlaybookRun: new DataLoader(async (ids) => groupBy(await listTasksByRunIds(db, { runIds: ids, reader }), (item) => item.task.playbookRunId, ids)),
    renewalCalls: new DataLoader(async (ids) => groupedBy(await listRenewalCalls(db, { renewalIds: ids, reader }), (call) => call.renewalId, ids)),
    renewalOutcomes: new DataLoader(async (ids) => groupedBy(await listRenewalOutcomes(db, { renewalIds: ids, reader }), (outcome) => outcome.renewalId, ids)),
    slackEmailLookup: new DataLoader(async (ids) => byKey(await getSlackEmailLookups(db, { userIds: ids, reader }), (row) => row.userId, ids)),
    listed: new WeakMap(),
    listedRelationshipReasons: new WeakMap(),
  };
}
