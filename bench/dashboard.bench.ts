// Dashboard benchmark: a page of 50 accounts with owners, stage, health and renewal, over 100k accounts, served by
// Lifeline's GraphQL API, by PostGraphile 4 on the same database, and by the hand-written SQL through postgres.js.
// Each server runs in its own process; this process generates the load (closed loop, fixed concurrency).
// BENCH_ACCOUNTS (default 100000), BENCH_SECONDS per server (default 10), BENCH_CONCURRENCY (default 8),
// BENCH_ROUNDS (default 4). BENCH_COMPARE_DIR: another Lifeline checkout (say, before a change) measured in the
// same rounds against the same database, as "Lifeline (compare)".
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { openDatabase } from '../db/client.ts';
import { ensureDefaultStages } from '../domain/lifecycle/stages.ts';
import { createApiToken } from '../domain/tokens.ts';
import { databaseUrlWithName } from '../test/support/template.ts';
import { LIFELINE_QUERY, POSTGRAPHILE_QUERY } from './dashboard-queries.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const BENCH_DB = 'lifeline_bench_dashboard';
const benchUrl = databaseUrlWithName(serverUrl, BENCH_DB);

async function prepareDatabase(): Promise<string> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
  await admin.unsafe(`create database ${BENCH_DB}`);
  await admin.end();
  const database = await openDatabase({ kind: 'postgres', url: benchUrl, max: 2 });
  await database.migrate();
  await ensureDefaultStages(database.db);
  const sql = postgres(benchUrl, { max: 1, onnotice: () => {} });
  const started = performance.now();
  // Set-based generation: people, accounts, their health and renewals, each one INSERT … SELECT generate_series.
  await sql.unsafe(`
    insert into users (name, email, role)
    select 'CSM ' || g, 'csm' || g || '@bench.example', 'csm'::user_role from generate_series(1, 40) g
    union all
    select 'AE ' || g, 'ae' || g || '@bench.example', 'ae'::user_role from generate_series(1, 20) g`);
  await sql.unsafe(`
    with csms as (select array_agg(id order by email) ids from users where role = 'csm'),
         aes as (select array_agg(id order by email) ids from users where role = 'ae')
    insert into accounts (external_id, name, segment, arr_cents, csm_id, ae_id, stage_key, stage_entered_at, contract_start, contract_end, version)
    select 'bench-' || g, 'Account ' || lpad(g::text, 6, '0') || ' ' || md5(g::text),
      (array['smb', 'mid_market', 'enterprise'])[1 + g % 3]::segment, 100000 * (1 + g % 500),
      case when g % 10 = 0 then null else csms.ids[1 + g % 40] end, aes.ids[1 + g % 20],
      (array['pre_onboarding', 'onboarding', 'implementation', 'early_adoption', 'mature_adoption'])[1 + g % 5],
      now() - make_interval(days => g % 200), date '2026-01-01', date '2026-06-01' + (g % 700), 1
    from generate_series(1, ${ACCOUNTS}) g, csms, aes`);
  await sql.unsafe(`
    insert into account_health (account_id, score, status, score_day_ago, score_week_ago, reasons, computed_at, model_version)
    select id, s, (case when s >= 70 then 'healthy' when s >= 40 then 'at_risk' else 'critical' end)::health_status,
      s, least(100, s + 5), '["Usage steady"]'::jsonb, now(), 1
    from (select id, abs(hashtext(id::text)) % 101 as s from accounts) scored`);
  await sql.unsafe(`
    insert into renewals (account_id, contract_end, window_opens_on, status)
    select id, contract_end, contract_end - 90, 'upcoming' from accounts`);
  // The listing orders by (name, id); without an index on it every engine sorts 100k rows per request and the
  // comparison measures only the sort. Migration 0007 creates it; all three servers read the same database.
  const [index] = await sql.unsafe(`select 1 from pg_indexes where tablename = 'accounts' and indexdef like '%(name, id)'`);
  if (!index) throw new Error('The accounts (name, id) index of migration 0007 is missing from the bench database.');
  await sql.unsafe('analyze');
  process.stdout.write(`Generated ${ACCOUNTS} accounts with owners, health and renewals in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const { token } = await createApiToken(database.db, { name: 'bench', role: 'admin' });
  await sql.end();
  await database.close();
  return token;
}

/** BENCH_REUSE=1 (with a database kept by BENCH_KEEP=1): skip generation, for quicker iterations. */
async function reuseDatabase(): Promise<string> {
  const database = await openDatabase({ kind: 'postgres', url: benchUrl, max: 1 });
  const { token } = await createApiToken(database.db, { name: 'bench', role: 'admin' });
  await database.close();
  return token;
}

interface Target {
  kind: 'lifeline' | 'compare' | 'postgraphile' | 'sql';
  label: string;
  port: number;
  body: string;
  headers: Record<string, string>;
  /** Number of accounts in a response, to check every server answers the same page. */
  count: (json: unknown) => number;
}

const COMPARE_DIR = process.env.BENCH_COMPARE_DIR;

function startServer(kind: Target['kind'], port: number): Promise<ChildProcess> {
  const script =
    kind === 'compare' && COMPARE_DIR
      ? path.join(path.resolve(COMPARE_DIR), 'bench', 'dashboard-server.ts')
      : fileURLToPath(new URL('./dashboard-server.ts', import.meta.url));
  const serverKind = kind === 'compare' ? 'lifeline' : kind;
  const child = spawn(process.execPath, ['--import', 'tsx', script, serverKind, String(port), benchUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start within 60 s`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function load(target: Target, seconds: number): Promise<{ latencies: number[]; seconds: number }> {
  const url = `http://127.0.0.1:${target.port}/graphql`;
  const once = async () => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers }, body: target.body });
    const json: unknown = await response.json();
    if (response.status !== 200 || target.count(json) !== 50) throw new Error(`${target.label} answered ${response.status}: ${JSON.stringify(json).slice(0, 300)}`);
  };
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        await once();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

type Json = { data?: Record<string, { edges?: unknown[]; nodes?: unknown[] } | unknown[]> };
const token = process.env.BENCH_REUSE === '1' ? await reuseDatabase() : await prepareDatabase();
const targets: Target[] = [
  {
    kind: 'lifeline',
    label: 'Lifeline GraphQL',
    port: 4301,
    body: JSON.stringify({ query: LIFELINE_QUERY }),
    headers: { authorization: `Bearer ${token}` },
    count: (json) => ((json as Json).data?.accounts as { edges: unknown[] } | undefined)?.edges.length ?? 0,
  },
  ...(COMPARE_DIR
    ? [
        {
          kind: 'compare' as const,
          label: 'Lifeline (compare)',
          port: 4304,
          body: JSON.stringify({ query: LIFELINE_QUERY }),
          headers: { authorization: `Bearer ${token}` },
          count: (json: unknown) => ((json as Json).data?.accounts as { edges: unknown[] } | undefined)?.edges.length ?? 0,
        },
      ]
    : []),
  {
    kind: 'postgraphile',
    label: 'PostGraphile 4',
    port: 4302,
    body: JSON.stringify({ query: POSTGRAPHILE_QUERY }),
    headers: {},
    count: (json) => ((json as Json).data?.allAccounts as { nodes: unknown[] } | undefined)?.nodes.length ?? 0,
  },
  {
    kind: 'sql',
    label: 'Hand-written SQL (postgres.js)',
    port: 4303,
    body: '{}',
    headers: {},
    count: (json) => ((json as Json).data?.accounts as unknown[] | undefined)?.length ?? 0,
  },
];

// All servers run at once and are measured in alternating rounds, each round starting with the next server, so a
// burst of load from elsewhere on the machine spreads over all of them instead of skewing one.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const children = await Promise.all(targets.map((target) => startServer(target.kind, target.port)));
const samples = new Map<Target['kind'], { latencies: number[]; seconds: number }>(targets.map((target) => [target.kind, { latencies: [], seconds: 0 }]));
try {
  for (const target of targets) await load(target, 2); // warm-up: plans, pools, JIT
  for (let round = 0; round < ROUNDS; round += 1) {
    const start = round % targets.length;
    for (const target of [...targets.slice(start), ...targets.slice(0, start)]) {
      const measured = await load(target, SECONDS / ROUNDS);
      const sample = samples.get(target.kind);
      sample?.latencies.push(...measured.latencies);
      if (sample) sample.seconds += measured.seconds;
    }
  }
} finally {
  for (const child of children) child.kill('SIGTERM');
}

const results = new Map<Target['kind'], { rps: number; p50: number; p95: number; requests: number }>();
for (const target of targets) {
  const sample = samples.get(target.kind);
  if (!sample) continue;
  const sorted = [...sample.latencies].sort((a, b) => a - b);
  const result = { rps: sorted.length / sample.seconds, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), requests: sorted.length };
  results.set(target.kind, result);
  process.stdout.write(
    `${target.label.padEnd(32)} ${result.rps.toFixed(0).padStart(6)} req/s   p50 ${result.p50.toFixed(1).padStart(6)} ms   p95 ${result.p95.toFixed(1).padStart(6)} ms   (${result.requests} requests, concurrency ${CONCURRENCY}, ${ROUNDS} rounds)\n`,
  );
}

const lifeline = results.get('lifeline');
const postgraphile = results.get('postgraphile');
const handWritten = results.get('sql');
if (lifeline && postgraphile && handWritten) {
  const vsPg = lifeline.rps / postgraphile.rps;
  const vsSql = handWritten.rps / lifeline.rps;
  process.stdout.write(`\nLifeline / PostGraphile throughput: ${vsPg.toFixed(2)}×  (goal ≥ 1.00: ${vsPg >= 1 ? 'met' : 'NOT met'})\n`);
  process.stdout.write(`Hand-written SQL / Lifeline throughput: ${vsSql.toFixed(2)}×  (goal ≤ 2.00: ${vsSql <= 2 ? 'met' : 'NOT met'})\n`);
  process.stdout.write(`p95: Lifeline ${lifeline.p95.toFixed(1)} ms, PostGraphile ${postgraphile.p95.toFixed(1)} ms, SQL ${handWritten.p95.toFixed(1)} ms\n`);
}
const compared = results.get('compare');
if (lifeline && compared) {
  process.stdout.write(`Lifeline / Lifeline (compare) throughput: ${(lifeline.rps / compared.rps).toFixed(2)}×\n`);
}
if (process.env.BENCH_KEEP !== '1') {
  const cleanup = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await cleanup.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
  await cleanup.end();
}
