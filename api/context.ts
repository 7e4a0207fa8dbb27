import type { Db } from '../db/client.ts';
import type { Actor } from '../domain/actors.ts';
import { type Loaders, createLoaders } from './loaders.ts';

export interface ApiContext {
  db: Db;
  actor: Actor;
  loaders: Loaders;
}

export function createApiContext(db: Db, actor: Actor): ApiContext {
  return { db, actor, loaders: createLoaders(db) };
}
