// Bulk import benchmark: one CSV file of daily usage rows (BENCH_ROWS, default 1M) imported by `npm run import`'s
// code path (its write lanes included) into the local PostgreSQL, against PostgreSQL's COPY of the same file into the same table, in one run;
// then the same kind of file through a Lifeline on loopback over GraphQL (BENCH_REMOTE_ROWS, default 200k).
import { ensureInstallDefaults } from '../domain/install-defaults.ts';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pino from 'pino';
import postgres from 'postgres';
import { parseConfig } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { importFile, localWriteLanes } from '../import/run.ts';
import { createApiToken } from '../domain/tokens.ts';
import { startLifeline } from '../server.ts';
import { databaseUrlWithName } from '../test/support/template.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const REMOTE_ROWS = Math.min(ROWS, Number(process.env.BENCH_REMOTE_ROWS ?? 200_000));
const DAYS = 100;
const ACCOUNTS = Math.max(1, Math.ceil(ROWS / DAYS));
const BENCH_DB = 'lifeline_bench_import';
const url = databaseUrlWithName(serverUrl, BENCH_DB);

const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
await admin.unsafe(`create database ${BENCH_DB}`);
const database = await openDatabase({ kind: 'postgres', url, max: 4 });
await database.migrate();
await ensureInstallDefaults(database.db);
const sql = postgres(url, { max: 2, onnotice: () => {} });
await sql.unsafe(`
  insert into accounts (name, segment, stage_key, arr_cents, version)
  select 'Import ' || g, 'smb', 'onboarding', 100000, 1 from generate_series(1, ${ACCOUNTS}) g`);
const accountIds = (await sql<{ id: string }[]>`select id from accounts order by id`).map((row) => row.id);

const folder = await mkdtemp(join(tmpdir(), 'lifeline-import-bench-'));
async function usageFile(name: string, rows: number): Promise<string> {
  const path = join(folder, name);
  const start = Date.UTC(2026, 0, 1);
  const lines = ['accountId,day,activeUsers,seats,keyEvents,advancedEvents'];
  for (let index = 0; index < rows; index += 1) {
    const accountId = accountIds[index % accountIds.length];
    const day = new Date(start + Math.floor(index / accountIds.length) * 86_400_000).toISOString().slice(0, 10);
    lines.push(`${accountId},${day},${index % 50},50,${index % 17},${index % 3}`);
  }
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}
const file = await usageFile('usage.csv', ROWS);
process.stdout.write(`Wrote ${ROWS} usage rows (${ACCOUNTS} accounts × up to ${DAYS} days) to a CSV file\n`);

async function count(): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from usage_daily`;
  return row?.n ?? 0;
}

async function viaCopy(): Promise<number> {
  await sql`truncate usage_daily`;
  const started = performance.now();
  const writable = await sql`copy usage_daily (account_id, day, active_users, seats, key_events, advanced_events) from stdin with (format csv, header true)`.writable();
  await pipeline(createReadStream(file), writable);
  return performance.now() - started;
}

async function viaImport(): Promise<number> {
  await sql`truncate usage_daily`;
  const started = performance.now();
  const summary = await importFile({ kind: 'usage', file, target: { kind: 'local', db: database.db, writeLanes: localWriteLanes(database.kind) }, batchRows: 10_000 });
  if (summary.refused > 0) throw new Error(`the import refused ${summary.refused} rows`);
  return performance.now() - started;
}

// Alternate the two so a burst of load from elsewhere on the machine does not land on one only.
const copyMs: number[] = [];
const importMs: number[] = [];
for (let round = 0; round < 2; round += 1) {
  copyMs.push(await viaCopy());
  if ((await count()) !== ROWS) throw new Error('COPY did not write every row');
  importMs.push(await viaImport());
  if ((await count()) !== ROWS) throw new Error('the import did not write every row');
}
const best = (values: number[]) => Math.min(...values);
const rate = (rows: number, ms: number) => (rows / (ms / 1000)).toFixed(0);
const runs = (values: number[]) => values.map((ms) => (ms / 1000).toFixed(2)).join(', ');
process.stdout.write(`COPY of the CSV file           best ${(best(copyMs) / 1000).toFixed(2)} s  (${rate(ROWS, best(copyMs))} rows/s)  runs: ${runs(copyMs)} s\n`);
process.stdout.write(`npm run import (local)         best ${(best(importMs) / 1000).toFixed(2)} s  (${rate(ROWS, best(importMs))} rows/s)  runs: ${runs(importMs)} s\n`);
const ratio = best(copyMs) / best(importMs);
process.stdout.write(`import / COPY throughput: ${ratio.toFixed(2)}×  (goal ≥ 0.50× COPY: ${ratio >= 0.5 ? 'met' : 'NOT met'})\n`);

// Over GraphQL: the same rows through a Lifeline on loopback (recordUsage mutations, one per batch).
const remoteFile = await usageFile('remote.csv', REMOTE_ROWS);
const lifeline = await startLifeline({
  config: parseConfig({ PORT: '0', DATABASE_URL: url, LIFELINE_JOBS: 'off' }),
  database,
  logger: pino({ level: 'silent' }),
  host: '127.0.0.1',
  printLocal: () => {},
});
const { token } = await createApiToken(database.db, { name: 'bench import', role: 'integration' });
await sql`truncate usage_daily`;
const remoteStarted = performance.now();
const remote = await importFile({ kind: 'usage', file: remoteFile, target: { kind: 'remote', url: `${lifeline.url}/graphql`, token }, batchRows: 10_000 });
const remoteMs = performance.now() - remoteStarted;
if (remote.written !== REMOTE_ROWS) throw new Error(`the remote import wrote ${remote.written} of ${REMOTE_ROWS} rows`);
process.stdout.write(`npm run import --url (GraphQL)  ${(remoteMs / 1000).toFixed(2)} s for ${REMOTE_ROWS} rows  (${rate(REMOTE_ROWS, remoteMs)} rows/s, ${(best(copyMs) / ROWS / (remoteMs / REMOTE_ROWS)).toFixed(2)}× COPY)\n`);
await lifeline.close();

await rm(folder, { recursive: true, force: true });
await sql.end();
await database.close();
await admin.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
await admin.end();
