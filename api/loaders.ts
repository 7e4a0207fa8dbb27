import DataLoader from 'dataloader';
import type { Db } from '../db/client.ts';
import type { Account, Handoff, HealthSummary, LifecycleStage, Renewal, SlackEmailLookup, User } from '../db/schema.ts';
import type { AccountPageRow } from '../domain/accounts/listing.ts';
import { getAccountsByIds } from '../domain/accounts/reads.ts';
import type { Actor } from '../domain/actors.ts';
import { isUuid } from '../domain/validation.ts';
import { getHealthSummariesByAccountIds } from '../domain/health/queries.ts';
import { getLatestRenewalsByAccountIds } from '../domain/renewals/queries.ts';
import { getLatestHandoffsByAccountIds } from '../domain/handoffs/handoffs.ts';
import { readLifecycle } from '../domain/lifecycle/stages.ts';
import { type SignalsSummary, getSignalsSummaries } from '../domain/signals.ts';
import { getUsersByIds } from '../domain/users.ts';
import { getSlackEmailLookups } from '../domain/people-links.ts';
import { type TaskItem, listOpenTasksByAccountIds } from '../domain/plays/tasks.ts';

/** Per-request batching: a page of accounts costs one statement per related kind, not one per account. */
export interface Loaders {
  user: DataLoader<string, User | null>;
  account: DataLoader<string, Account | null>;
  stage: DataLoader<string, LifecycleStage | null>;
  health: DataLoader<string, HealthSummary | null>;
  handoffByAccount: DataLoader<string, Handoff | null>;
  renewalByAccount: DataLoader<string, Renewal | null>;
  signals: DataLoader<string, SignalsSummary | null>;
  openTasksByAccount: DataLoader<string, TaskItem[]>;
  slackEmailLookup: DataLoader<string, SlackEmailLookup | null>;
  /**
   * What a listing joined beside each of its accounts (stage, health, owners, renewal), keyed by the account object
   * it returned: its fields answer from here without a load, and so without a promise each.
   */
  listed: WeakMap<Account, AccountPageRow>;
}

function byKey<K, V>(rows: readonly V[], keyOf: (row: V) => K, keys: readonly K[]): (V | null)[] {
  const index = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => index.get(key) ?? null);
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
    signals: new DataLoader(async (ids) => byKey(await getSignalsSummaries(db, { accountIds: ids, reader }), (row) => row.accountId, ids)),
    openTasksByAccount: new DataLoader(async (ids) => {
      const byAccount = new Map<string, TaskItem[]>();
      for (const item of await listOpenTasksByAccountIds(db, { accountIds: ids, reader })) {
        byAccount.set(item.task.accountId, [...(byAccount.get(item.task.accountId) ?? []), item]);
      }
      return ids.map((id) => byAccount.get(id) ?? []);
    }),
    slackEmailLookup: new DataLoader(async (ids) => byKey(await getSlackEmailLookups(db, { userIds: ids, reader }), (row) => row.userId, ids)),
    listed: new WeakMap(),
  };
}
