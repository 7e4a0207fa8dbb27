import type { Db } from '../db/client.ts';
import type { Actor } from '../domain/actors.ts';
import { type Loaders, createLoaders } from './loaders.ts';

export interface ApiContext {
  db: Db;
  actor: Actor;
  loaders: Loaders;
  /** Tells the health refresher that these accounts have new signals. */
  signalsArrived: (accountIds: readonly string[]) => void;
}

export function createApiContext(db: Db, actor: Actor, signalsArrived: ApiContext['signalsArrived'] = () => {}): ApiContext {
  return { db, actor, loaders: createLoaders(db), signalsArrived };
}
