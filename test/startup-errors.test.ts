import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGLITE_RUN_ONLY, onPostgres } from './support/suites.ts';

// Lifeline started for real (main.ts in a child process) in surroundings it cannot start in: it says what is wrong
// and what to do, on stderr, without a stack trace, and exits 1.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pgUrl = process.env.TEST_DATABASE_URL;

function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'silent', LIFELINE_JOBS: 'off', METRICS_PORT: 'off', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stderr, stdout });
    });
  });
}

/** A port nothing listens on: taken from the system, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

function expectNoStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

let taken: Server;
let takenPort: number;
beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
  takenPort = (taken.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((done) => taken.close(() => done()));
  await rm(pgliteDir, { recursive: true, force: true });
});
/** One embedded database for the runs that get past it (the second run finds it migrated). */
const pgliteDir = `${root}/.data/startup-test-${process.pid}`;

describe('starting Lifeline where it cannot start', { timeout: 180_000 }, () => {
  // These give Lifeline a PostgreSQL address nobody listens on, or an embedded database of their own: both runs alike.
  describe.skipIf(onPostgres)(`without the test database (${PGLITE_RUN_ONLY})`, () => {
    it('a DATABASE_URL where nothing listens: says the connection was refused and to start PostgreSQL or fix the URL', async () => {
      const port = await freePort();
      const run = await start({ DATABASE_URL: `postgres://lifeline:s3cret@127.0.0.1:${port}/lifeline` });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`Lifeline cannot reach PostgreSQL at postgres://lifeline:***@127.0.0.1:${port}/lifeline: the connection was refused`);
      expect(run.stderr).toContain('Fix: start PostgreSQL, or correct the host and port in DATABASE_URL.');
      expect(run.stderr).not.toContain('s3cret');
      expectNoStackTrace(run.stderr);
    });

    it('a port already taken: says so and how to choose another', async () => {
      const run = await start({ PORT: String(takenPort), HOST: '127.0.0.1', PGLITE_DIR: pgliteDir, LIFELINE_SEED_DEMO: 'never' });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`Port ${takenPort} is already in use (127.0.0.1:${takenPort}), so Lifeline cannot listen there.`);
      expect(run.stderr).toContain('choose another port with PORT=3001');
      expectNoStackTrace(run.stderr);
    });

    it('a metrics port already taken: names METRICS_PORT', async () => {
      const run = await start({ PORT: '0', HOST: '127.0.0.1', METRICS_PORT: String(takenPort), METRICS_HOST: '127.0.0.1', PGLITE_DIR: pgliteDir, LIFELINE_SEED_DEMO: 'never' });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`Port ${takenPort} is already in use`);
      expect(run.stderr).toContain('METRICS_PORT=9465 (or METRICS_PORT=off)');
      expectNoStackTrace(run.stderr);
    });
  });

  describe.skipIf(!pgUrl)('against the PostgreSQL server (TEST_DATABASE_URL)', () => {
    it('a database that does not exist: says how to create it', async () => {
      const url = new URL(pgUrl ?? '');
      url.pathname = '/lifeline_missing_db';
      const run = await start({ DATABASE_URL: url.toString() });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('has no database named "lifeline_missing_db"');
      expect(run.stderr).toContain('Fix: create it (createdb lifeline_missing_db');
      expectNoStackTrace(run.stderr);
    });

    it('a user the server does not know: says to use a role that exists', async () => {
      const url = new URL(pgUrl ?? '');
      url.username = 'lifeline_nobody';
      const run = await start({ DATABASE_URL: url.toString() });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('refused user "lifeline_nobody"');
      expect(run.stderr).toContain('Fix: use a role that exists and may connect');
      expectNoStackTrace(run.stderr);
    });

    it('a wrong password, when the server checks passwords for this connection', async () => {
      // The local server trusts connections from 127.0.0.1, so a wrong password is accepted there; the check runs
      // only when pg_hba.conf asks for a password (e.g. scram-sha-256), which is what the test looks for first.
      const admin = postgres(pgUrl ?? '', { max: 1, onnotice: () => {} });
      const [rule] = await admin.unsafe<{ auth_method: string }[]>(
        "select auth_method from pg_hba_file_rules where type = 'host' and address is not null and '127.0.0.1'::inet <<= (address || coalesce('/' || netmask, ''))::inet order by line_number limit 1",
      ).catch(() => [{ auth_method: 'unknown' }]);
      await admin.end();
      if (rule?.auth_method === 'trust' || rule?.auth_method === 'unknown') {
        expect(rule.auth_method).toMatch(/trust|unknown/);
        return;
      }
      const url = new URL(pgUrl ?? '');
      url.password = 'definitely-wrong';
      const run = await start({ DATABASE_URL: url.toString() });
      expect(run.stderr).toContain('rejected the password');
      expectNoStackTrace(run.stderr);
    });
  });
});
