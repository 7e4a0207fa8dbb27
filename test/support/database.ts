import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'drizzle-orm/logger';
import postgres from 'postgres';
import { type Database, openDatabase } from '../../db/client.ts';
import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import { databaseUrlWithName } from './template.ts';

export interface TestDatabase extends Database {
  /** Drops the copy (PostgreSQL) or closes it (PGlite). */
  destroy(): Promise<void>;
  /** The copy's connection URL, for a child process to reach it (PostgreSQL only). */
  url?: string;
}

/**
 * For a test that seeds the whole demo book into a database copy of its own, the heaviest single test there is: test
 * files run side by side (one per core), so on a busy machine it can take longer than the usual 30 s.
 */
export const DEMO_BOOK_TIMEOUT = 120_000;

/** Counts SQL statements, for tests that pin how many a request costs. */
export class StatementCounter implements Logger {
  statements: string[] = [];

  logQuery(query: string): void {
    this.statements.push(query);
  }

  reset(): void {
    this.statements = [];
  }
}

/**
 * A private, migrated database for one test file: PGlite by default, PostgreSQL when TEST_DATABASE_URL is set.
 * Copies are isolated, so test files run in parallel without seeing each other's rows.
 */
export async function createTestDatabase(options: { logger?: Logger } = {}): Promise<TestDatabase> {
  const url = process.env.TEST_DATABASE_URL;
  const openOptions = options.logger ? { logger: options.logger } : {};
  if (url) {
    const name = `lifeline_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name} template ${inject('postgresTemplate')}`);
    const database = await openDatabase({ kind: 'postgres', url: databaseUrlWithName(url, name), max: 10 }, openOptions);
    return {
      ...database,
      url: databaseUrlWithName(url, name),
      async destroy() {
        await database.close();
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      },
    };
  }
  const template = await readFile(inject('pgliteTemplate'));
  const pglite = await PGlite.create({ loadDataDir: new Blob([template]) });
  const database = await openDatabase({ kind: 'pglite', pglite }, openOptions);
  // Safe after the test closed it on purpose (a database outage).
  return { ...database, destroy: async () => (pglite.closed ? undefined : database.close()) };
}

/**
 * A database of the test file's own, created before its tests and destroyed after them; with `each`, one for each
 * test. The handle is there at once, so the file can hold it in a const; it reaches the database once created.
 */
export function useTestDatabase(options: { logger?: Logger; each?: boolean } = {}): TestDatabase {
  let current: TestDatabase | undefined;
  const open = (): TestDatabase => {
    if (!current) throw new Error('the test database is not created yet: use it in a hook or a test');
    return current;
  };
  const [before, after] = options.each ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    current = await createTestDatabase(options.logger ? { logger: options.logger } : {});
  });
  after(async () => {
    await current?.destroy();
    current = undefined;
  });
  return {
    get db() {
      return open().db;
    },
    get kind() {
      return open().kind;
    },
    get url() {
      return open().url;
    },
    migrate: () => open().migrate(),
    ping: () => open().ping(),
    close: () => open().close(),
    destroy: () => open().destroy(),
  };
}
