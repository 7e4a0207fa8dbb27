import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.ts';
import { DEMO_TOKEN_FILE, DEMO_TOKEN_NAME, demoAdminToken, demoTokenMayBeShown } from '../demo/token.ts';
import { authenticateToken, revokeApiTokensNamed } from '../domain/tokens.ts';
import { claimScheduledRun, startManualRun } from '../jobs/coordinator.ts';
import { executeRun } from '../jobs/run.ts';
import { type TestDatabase, createTestDatabase } from './support/database.ts';
import { createUser } from './support/factories.ts';

let database: TestDatabase;
let dir: string;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.destroy();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeline-demo-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the demo admin token', () => {
  it('is the same across restarts, kept in the database folder and readable by its owner only', async () => {
    const admin = await createUser(database.db, { role: 'admin', name: 'Demo Admin' });
    const first = await demoAdminToken(database.db, { dir, adminId: admin.id });
    const second = await demoAdminToken(database.db, { dir, adminId: admin.id });
    expect(first.created).toBe(true);
    expect(second).toEqual({ token: first.token, created: false });
    expect((await readFile(join(dir, DEMO_TOKEN_FILE), 'utf8')).trim()).toBe(first.token);
    expect((await stat(join(dir, DEMO_TOKEN_FILE))).mode & 0o777).toBe(0o600);
    expect(await authenticateToken(database.db, first.token)).toMatchObject({ role: 'admin', userId: admin.id, label: 'Demo Admin' });
  });

  it('is made anew, and the old one revoked, when the kept token no longer opens Lifeline or the file is garbage', async () => {
    const admin = await createUser(database.db, { role: 'admin' });
    const first = await demoAdminToken(database.db, { dir, adminId: admin.id });
    await revokeApiTokensNamed(database.db, DEMO_TOKEN_NAME);
    const afterRevoke = await demoAdminToken(database.db, { dir, adminId: admin.id });
    expect(afterRevoke.created).toBe(true);
    expect(afterRevoke.token).not.toBe(first.token);

    await writeFile(join(dir, DEMO_TOKEN_FILE), 'not a token\n');
    const afterGarbage = await demoAdminToken(database.db, { dir, adminId: admin.id });
    expect(afterGarbage.created).toBe(true);
    // Only the newest demo token opens Lifeline: the one before it was revoked when it was replaced.
    expect(await authenticateToken(database.db, afterGarbage.token)).not.toBeNull();
    expect(await authenticateToken(database.db, `${afterRevoke.token}`)).toBeNull();
  });
});

describe('where the demo token may be shown', () => {
  it('only on loopback: GraphiQL on any other interface never carries the admin token', () => {
    expect(['127.0.0.1', '::1', 'localhost'].map(demoTokenMayBeShown)).toEqual([true, true, true]);
    expect(['0.0.0.0', '10.0.0.5', '::', undefined].map(demoTokenMayBeShown)).toEqual([false, false, false, false]);
    // Lifeline on its own listens on loopback, so its GraphiQL shows the token; with HOST=0.0.0.0 it does not.
    expect(demoTokenMayBeShown(parseConfig({}).host)).toBe(true);
    expect(demoTokenMayBeShown(parseConfig({ HOST: '0.0.0.0' }).host)).toBe(false);
  });
});

describe('where Lifeline listens', () => {
  const slack = { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'secret' };
  it.each([
    ['on its own (embedded database, no Slack): loopback only', {}, '127.0.0.1'],
    ['on PostgreSQL: every interface', { DATABASE_URL: 'postgres://db.example/lifeline' }, undefined],
    ['connected to Slack: every interface, so Slack can reach it', slack, undefined],
    ['HOST wins when set', { HOST: '0.0.0.0' }, '0.0.0.0'],
    ['HOST wins on PostgreSQL too', { DATABASE_URL: 'postgres://db.example/lifeline', HOST: '10.0.0.5' }, '10.0.0.5'],
  ])('%s', (_name, env, host) => {
    expect(parseConfig(env).host).toBe(host);
  });
});

describe('job logs', () => {
  function capture() {
    const lines: { level: number; msg: string }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    return { logger: pino({ level: 'debug' }, stream), lines };
  }

  it('a scheduled run that found nothing to do logs at debug; one that did something, or a run by hand, at info', async () => {
    const { logger, lines } = capture();
    const slot = (minutes: number) => new Date(Math.floor(Date.now() / 60_000) * 60_000 - minutes * 60_000);
    const idle = await claimScheduledRun(database.db, { job: 'outbox', scheduledFor: slot(3), instanceId: 'test' });
    const busy = await claimScheduledRun(database.db, { job: 'outbox', scheduledFor: slot(2), instanceId: 'test' });
    if (!idle || !busy) throw new Error('the outbox slots were not claimed');
    await executeRun(database.db, idle, async () => ({ sent: 0, retried: 0 }), { now: new Date(), logger });
    await executeRun(database.db, busy, async () => ({ sent: 2, retried: 0 }), { now: new Date(), logger });
    const manual = await startManualRun(database.db, { job: 'health', instanceId: 'test', now: new Date() });
    await executeRun(database.db, manual, async () => ({ accounts: 0 }), { now: new Date(), logger });

    const succeeded = lines.filter((line) => line.msg.endsWith('succeeded')).map((line) => [line.msg, line.level]);
    expect(succeeded).toEqual([
      ['job outbox succeeded', 20],
      ['job outbox succeeded', 30],
      ['job health succeeded', 30],
    ]);
  });
});
