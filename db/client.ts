import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import type { Logger } from 'drizzle-orm/logger';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { PgDialect, type PgDatabase, type PgQueryResultHKT, type PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { POSTGRES_POOL_SIZE } from '../config.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;
/** The one database type the domain sees: PGlite and postgres.js both satisfy it. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** Arbitrary but fixed: serialises migrations when several replicas start at once. */
const MIGRATION_LOCK_ID = 7_246_311_001;

export type DatabaseTarget = { kind: 'postgres'; url: string; max?: number } | { kind: 'pglite'; dir?: string; pglite?: PGlite };

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Applies checked-in migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

type ValuesQuery = (text: string, params: readonly unknown[]) => Promise<unknown[][]>;
const valuesQueries = new WeakMap<Db, ValuesQuery>();

/**
 * Runs a statement and returns its rows as arrays of driver values: the values drizzle's column mappers take
 * (timestamps and dates as text). For hot paths that build their statement once and decode rows themselves;
 * everything else goes through drizzle. postgres.js prepares the statement once per connection; the logger
 * given to openDatabase sees it as it sees drizzle's.
 */
export function queryValues(db: Db, text: string, params: readonly unknown[]): Promise<unknown[][]> {
  const run = valuesQueries.get(db);
  if (!run) throw new Error('queryValues needs a database opened by openDatabase()');
  return run(text, params);
}

/**
 * Drizzle reads these types as text and converts them itself; raw statements must hand them over the same way.
 * The numbered ones are arrays: timestamp[] 1115, date[] 1182, timestamptz[] 1185, interval[] 1187, numeric[] 1231.
 */
const textParsers = Object.fromEntries(
  [pgliteTypes.TIMESTAMP, pgliteTypes.TIMESTAMPTZ, pgliteTypes.INTERVAL, pgliteTypes.DATE, 1115, 1182, 1185, 1187, 1231].map((oid) => [
    oid,
    (value: string) => value,
  ]),
);

export interface OpenOptions {
  logger?: Logger;
}

export async function openDatabase(target: DatabaseTarget, options: OpenOptions = {}): Promise<Database> {
  if (target.kind === 'postgres') return openPostgres(target.url, target.max ?? POSTGRES_POOL_SIZE, options);
  return openPglite(target, options);
}

/**
 * How long a connection waits before it tries the server again, in seconds. A query waits out its connection's
 * delay, and postgres.js's own grows with every failed attempt up to 20 s: during a database outage requests
 * hung for up to 20 s before they could say "database unavailable". Capped at about a second, they answer within
 * about a second, and each connection still tries the server no more than about once a second.
 */
function reconnectDelaySeconds(failedAttempts: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** failedAttempts, 1);
}

function openPostgres(url: string, max: number, options: OpenOptions): Database {
  const client = postgres(url, {
    max,
    onnotice: () => {},
    connect_timeout: 5,
    backoff: reconnectDelaySeconds,
    connection: { application_name: 'lifeline' },
  });
  const db = drizzlePostgres({ client, schema, logger: options.logger ?? false });
  // drizzle has set the client's parsers for timestamps and dates to pass text through, as queryValues promises.
  valuesQueries.set(db, async (text, params) => {
    options.logger?.logQuery(text, [...params]);
    return client.unsafe(text, [...(params as postgres.ParameterOrJSON<never>[])], { prepare: true }).values();
  });
  return {
    db,
    kind: 'postgres',
    async migrate() {
      // One dedicated connection, so the advisory lock and the migration share a session.
      const migrator = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await migrator`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        await migratePostgres(drizzlePostgres({ client: migrator, schema }), { migrationsFolder });
      } finally {
        await migrator.end({ timeout: 5 });
      }
    },
    ping: () => pingWith(db),
    close: () => client.end({ timeout: 5 }),
  };
}

async function openPglite(target: { dir?: string; pglite?: PGlite }, options: OpenOptions): Promise<Database> {
  let client = target.pglite;
  if (!client) {
    if (target.dir) await mkdir(target.dir, { recursive: true });
    client = await PGlite.create(target.dir ? { dataDir: target.dir } : {});
  }
  const pglite = client;
  const db = drizzlePglite({ client: pglite, schema, logger: options.logger ?? false });
  valuesQueries.set(db, async (text, params) => {
    options.logger?.logQuery(text, [...params]);
    return (await pglite.query<unknown[]>(text, [...params], { rowMode: 'array', parsers: textParsers })).rows;
  });
  return {
    db,
    kind: 'pglite',
    // PGlite is single-connection and in-process: no other replica can race the migration.
    migrate: () => migratePglite(db, { migrationsFolder }),
    ping: () => pingWith(db),
    close: async () => {
      if (!pglite.closed) await pglite.close();
    },
  };
}

/** Readiness probes must answer quickly even when the server hangs rather than refuses. */
const PING_TIMEOUT_MS = 2000;

async function pingWith(db: Db): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([db.execute(sql`select 1`).then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Rows of a raw statement: postgres.js returns an array, PGlite an object with `rows`. */
export async function queryRows<Row extends Record<string, unknown>>(db: Db | Tx, query: SQL): Promise<Row[]> {
  const result: unknown = await db.execute(query);
  if (Array.isArray(result)) return result as Row[];
  return (result as { rows: Row[] }).rows;
}

const dialect = new PgDialect();

/**
 * Rows of a raw statement run as a prepared statement: postgres.js parses and plans it once per connection and
 * afterwards only binds and runs it (drizzle's execute sends every statement unnamed, parsed and planned each time;
 * PGlite runs both alike). For hot paths whose statement text is the same on every call, every value a parameter.
 * Works inside a transaction too, on the transaction's connection.
 */
export async function queryPreparedRows<Row extends Record<string, unknown>>(db: Db | Tx, query: SQL): Promise<Row[]> {
  const result: unknown = await db._.session.prepareQuery(dialect.sqlToQuery(query), undefined, 'prepared', false).execute();
  if (Array.isArray(result)) return result as Row[];
  return (result as { rows: Row[] }).rows;
}

// Error codes that mean "the database cannot be reached right now", as opposed to a bad query:
// socket errors, postgres.js connection states, and PostgreSQL's shutdown / cannot-connect SQLSTATEs.
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);

/** The error and the errors it wraps (drizzle wraps the driver's), outermost first. */
function* errorChain(error: unknown): Generator<Error> {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
    yield current;
    current = current.cause;
  }
}

/** True when an error means the database is unreachable, so callers can say "try again" instead of "bug". */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const current of errorChain(error)) {
    const code: unknown = Reflect.get(current, 'code');
    if (typeof code === 'string' && unavailableCodes.has(code)) return true;
    if (/PGlite is closed/i.test(current.message)) return true;
  }
  return false;
}

/** True when the database refused a statement with this SQLSTATE, on PGlite and PostgreSQL alike. */
export function hasDatabaseCode(error: unknown, sqlState: string): boolean {
  for (const current of errorChain(error)) if (Reflect.get(current, 'code') === sqlState) return true;
  return false;
}
