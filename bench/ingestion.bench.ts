// Ingestion benchmark: 1M daily usage rows written through recordUsage in batches (the code path of the
// `recordUsage` mutation, minus HTTP) against PostgreSQL's COPY of the same rows into the same table, in one run.
// BENCH_USAGE_ACCOUNTS (default 10000) × BENCH_USAGE_DAYS (default 100) rows; BENCH_USAGE_BATCH rows per call (default 10000);
// BENCH_INGEST_DB names the database it creates and drops (default lifeline_bench_ingest).
import { ensureInstallDefaults } from '../domain/install-defaults.ts';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { openDatabase } from '../db/client.ts';
import { type UsageRowInput, recordUsage } from '../domain/signals.ts';
import { databaseUrlWithName } from '../test/support/template.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ACCOUNTS = Number(process.env.BENCH_USAGE_ACCOUNTS ?? 10_000);
const DAYS = Number(process.env.BENCH_USAGE_DAYS ?? 100);
const BATCH = Number(process.env.BENCH_USAGE_BATCH ?? 10_000);
const BENCH_DB = process.env.BENCH_INGEST_DB ?? 'lifeline_bench_ingest';
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
  select 'Ingest ' || g, 'smb', 'onboarding', 100000, 1 from generate_series(1, ${ACCOUNTS}) g`);
const accountIds = (await sql<{ id: string }[]>`select id from accounts order by id`).map((row) => row.id);

const start = Date.UTC(2026, 0, 1);
const days = Array.from({ length: DAYS }, (_, index) => new Date(start + index * 86_400_000).toISOString().slice(0, 10));
const rows: UsageRowInput[] = [];
for (const day of days) {
  for (const [index, accountId] of accountIds.entries()) {
    rows.push({ accountId, day, activeUsers: index % 50, seats: 50, keyEvents: index % 17, advancedEvents: index % 3 });
  }
}
process.stdout.write(`Prepared ${rows.length} usage rows (${ACCOUNTS} accounts × ${DAYS} days)\n`);

async function viaCopy(): Promise<number> {
  await sql`truncate usage_daily`;
  const started = performance.now();
  const writable = await sql`copy usage_daily (account_id, day, active_users, seats, key_events, advanced_events) from stdin`.writable();
  async function* lines() {
    for (let offset = 0; offset < rows.length; offset += 10_000) {
      yield rows
        .slice(offset, offset + 10_000)
        .map((row) => `${row.accountId}\t${row.day}\t${row.activeUsers}\t${row.seats}\t${row.keyEvents}\t${row.advancedEvents}\n`)
        .join('');
    }
  }
  await pipeline(Readable.from(lines()), writable);
  return performance.now() - started;
}

async function viaRecordUsage(): Promise<number> {
  await sql`truncate usage_daily`;
  const actor = { userId: null, role: 'integration', label: 'bench' } as const;
  const started = performance.now();
  for (let offset = 0; offset < rows.length; offset += BATCH) {
    await recordUsage(database.db, { rows: rows.slice(offset, offset + BATCH), actor });
  }
  return performance.now() - started;
}

async function count(): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from usage_daily`;
  return row?.n ?? 0;
}

// Alternate the two so a burst of load from elsewhere on the machine does not land on one only.
const copyMs: number[] = [];
const lifelineMs: number[] = [];
for (let round = 0; round < 2; round += 1) {
  copyMs.push(await viaCopy());
  if ((await count()) !== rows.length) throw new Error('COPY did not write every row');
  lifelineMs.push(await viaRecordUsage());
  if ((await count()) !== rows.length) throw new Error('recordUsage did not write every row');
}
const best = (values: number[]) => Math.min(...values);
const rate = (ms: number) => (rows.length / (ms / 1000)).toFixed(0);
process.stdout.write(`COPY                         best ${(best(copyMs) / 1000).toFixed(2)} s  (${rate(best(copyMs))} rows/s)  runs: ${copyMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s\n`);
process.stdout.write(`recordUsage (batches of ${BATCH}) best ${(best(lifelineMs) / 1000).toFixed(2)} s  (${rate(best(lifelineMs))} rows/s)  runs: ${lifelineMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s\n`);
const ratio = best(copyMs) / best(lifelineMs);
process.stdout.write(`recordUsage / COPY throughput: ${ratio.toFixed(2)}×  (goal ≥ 0.50: ${ratio >= 0.5 ? 'met' : 'NOT met'})\n`);

await sql.end();
await database.close();
await admin.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
await admin.end();
