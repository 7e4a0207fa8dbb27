import DataLoader from 'dataloader';
import type { Db } from '../db/client.ts';
import type { Account, LifecycleStage, User } from '../db/schema.ts';
import { getAccountsByIds } from '../domain/accounts.ts';
import { listStages } from '../domain/lifecycle.ts';
import { getUsersByIds } from '../domain/users.ts';

/** Per-request batching: a page of accounts costs one statement per related kind, not one per account. */
export interface Loaders {
  user: DataLoader<string, User | null>;
  account: DataLoader<string, Account | null>;
  stage: DataLoader<string, LifecycleStage | null>;
}

function byKey<K, V>(rows: readonly V[], keyOf: (row: V) => K, keys: readonly K[]): (V | null)[] {
  const index = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => index.get(key) ?? null);
}

export function createLoaders(db: Db): Loaders {
  let stages: Promise<LifecycleStage[]> | undefined;
  return {
    user: new DataLoader(async (ids) => byKey(await getUsersByIds(db, ids), (user) => user.id, ids)),
    account: new DataLoader(async (ids) => byKey(await getAccountsByIds(db, ids), (account) => account.id, ids)),
    // Stages are a handful of rows: load them all once per request.
    stage: new DataLoader(async (keys) => {
      stages ??= listStages(db);
      return byKey(await stages, (stage) => stage.key, keys);
    }),
  };
}
