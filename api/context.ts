import type { Db } from '../db/client.ts';
import type { Actor } from '../domain/actors.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS } from '../domain/renewals/window.ts';
import type { ProcessJobs } from '../jobs/registry.ts';
import { type Loaders, createLoaders } from './loaders.ts';

export interface ApiContext {
  db: Db;
  actor: Actor;
  loaders: Loaders;
  /** Tells the health refresher that these accounts have new signals. */
  signalsArrived: (accountIds: readonly string[]) => void;
  /** Days before contract end that a renewal window opens (LIFELINE_RENEWAL_WINDOW_DAYS): renewals made through the API use it. */
  renewalWindowDays: number;
  /** The jobs `runJob` may run: this process's own, as the server was given them. */
  jobs: ProcessJobs;
}

export function createApiContext(
  db: Db,
  actor: Actor,
  signalsArrived: ApiContext['signalsArrived'] = () => {},
  renewalWindowDays: number = DEFAULT_RENEWAL_WINDOW_DAYS,
  jobs: ProcessJobs,
): ApiContext {
  return { db, actor, loaders: createLoaders(db, actor), signalsArrived, renewalWindowDays, jobs };
}
