// Where a dashboard request spends its time, in one process and without HTTP, on the database the dashboard
// bench keeps (BENCH_KEEP=1 npm run bench -- dashboard, once):
//   node --import tsx bench/dashboard-profile.ts            phase timings (medians over BENCH_REQUESTS)
//   node --cpu-prof --import tsx bench/dashboard-profile.ts  the same, plus a .cpuprofile to open in DevTools
// BENCH_DASHBOARD_DB names the kept database as the bench does. BENCH_VARIANT picks the page (a key of dashboard-queries.ts; default at-risk, the 50 at-risk accounts by health).
// Not a *.bench.ts file, so `npm run bench` does not run it.
import pino from 'pino';
import postgres from 'postgres';
import { createGraphqlServer } from '../api/yoga.ts';
import { openDatabase } from '../db/client.ts';
import { listAccounts } from '../domain/accounts/listing.ts';
import { systemReader } from '../domain/actors.ts';
import { authenticateToken, createApiToken } from '../domain/tokens.ts';
import { databaseUrlWithName } from '../test/support/template.ts';
import { dashboardVariant } from './dashboard-queries.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const url = databaseUrlWithName(serverUrl, process.env.BENCH_DASHBOARD_DB ?? 'lifeline_bench_dashboard');
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const variant = dashboardVariant(process.env.BENCH_VARIANT ?? 'at-risk');

const database = await openDatabase({ kind: 'postgres', url, max: 4 });
const client = postgres(url, { max: 4, onnotice: () => {} });
const { token } = await createApiToken(database.db, { name: 'profile', role: 'admin' });
const yoga = createGraphqlServer({ db: database.db, logger: pino({ level: 'silent' }) });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function time(label: string, run: () => Promise<unknown>): Promise<number> {
  for (let index = 0; index < 20; index += 1) await run(); // warm-up: plans, JIT
  const samples: number[] = [];
  for (let index = 0; index < REQUESTS; index += 1) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  const result = median(samples);
  process.stdout.write(`${label.padEnd(48)} median ${result.toFixed(2).padStart(7)} ms\n`);
  return result;
}

const body = JSON.stringify({ query: variant.lifelineQuery });
const request = async () => {
  const response = await yoga.fetch('http://bench/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  const text = await response.text();
  if (response.status !== 200 || text.includes('"errors"')) throw new Error(text.slice(0, 300));
};

await time('token check (authenticateToken; cached after the first)', () => authenticateToken(database.db, token));
await time('page query (listAccounts)', () =>
  listAccounts(database.db, { filter: { healthStatus: variant.healthStatus }, reader: systemReader, first: 50, orderBy: variant.order }),
);
await time('hand-written SQL through postgres.js', () => client.unsafe(variant.sql));
await time('hand-written SQL + JSON.stringify', async () => JSON.stringify(await client.unsafe(variant.sql)));
await time('full GraphQL request (yoga.fetch, no HTTP)', request);

await client.end();
await database.close();
