// Dashboard benchmark: the pages users open most, over 100k accounts whose health rows are the size real ones are
// (components and reasons like the demo book's; ~30% at risk, ~10% critical), each served by Lifeline's GraphQL API,
// by PostGraphile 4 on the same database and by one hand-written SQL statement through postgres.js:
//   the 50 at-risk accounts ordered by health, alone, with totalCount, and with the health components selected;
//   a page of 50 in every other order (health_drop, renewal_date, arr, time_in_stage, name).
// Each server runs in its own process, and so does the load generator (autocannon: closed loop, fixed concurrency,
// a warm-up before measuring). Each page is checked to be the same 50 accounts on every server before it is measured;
// where PostGraphile 4 cannot express an order, the output says so. Prints the load average at the start (a run is
// comparable only on a quiet machine, under 1.5), req/s of each server, the ratios and the goals, met or not.
// BENCH_ACCOUNTS (default 100000), BENCH_SECONDS per server and page (default 10), BENCH_CONCURRENCY (default 8),
// BENCH_ROUNDS (default 4), BENCH_WARMUP seconds per server and page before measuring (default 2), BENCH_VARIANTS
// (comma-separated page keys, say at-risk,name; default all, see dashboard-queries.ts). BENCH_COMPARE_DIR: another
// Lifeline checkout (say, before a change) measured in the same rounds against the same database, as
// "Lifeline (compare)". BENCH_KEEP=1 keeps the database; BENCH_REUSE=1 measures a kept one without generating it.
// BENCH_DASHBOARD_DB names the database (default lifeline_bench_dashboard); BENCH_PORT is the first of the four
// ports the servers listen on (default 4301).
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { openDatabase } from '../db/client.ts';
import { LIFELINE_NODE_FLAGS } from '../node-flags.ts';
import { createApiToken } from '../domain/tokens.ts';
import { databaseUrlWithName } from '../test/support/template.ts';
import { runAutocannon } from './autocannon.ts';
import { generateBenchBook } from './book.ts';
import { type DashboardVariant, dashboardVariant, dashboardVariants } from './dashboard-queries.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 2);
// BENCH_DASHBOARD_DB and BENCH_PORT let two runs share a database server and a machine without meeting.
const BENCH_DB = process.env.BENCH_DASHBOARD_DB ?? 'lifeline_bench_dashboard';
if (!/^[a-z_][a-z0-9_]*$/.test(BENCH_DB)) throw new Error(`BENCH_DASHBOARD_DB must be a plain lower-case name, not ${BENCH_DB}`);
const PORT = Number(process.env.BENCH_PORT ?? 4301);
const benchUrl = databaseUrlWithName(serverUrl, BENCH_DB);

async function prepareDatabase(): Promise<string> {
  const { token } = await generateBenchBook({ serverUrl, name: BENCH_DB, accounts: ACCOUNTS });
  return token;
}

/** BENCH_REUSE=1 (with a database kept by BENCH_KEEP=1): skip generation, for quicker iterations. */
async function reuseDatabase(): Promise<string> {
  const database = await openDatabase({ kind: 'postgres', url: benchUrl, max: 1 });
  const { token } = await createApiToken(database.db, { name: 'bench', role: 'admin' });
  await database.close();
  return token;
}

type ServerKind = 'lifeline' | 'compare' | 'postgraphile' | 'sql';
const COMPARE_DIR = process.env.BENCH_COMPARE_DIR;
const ports: Record<ServerKind, number> = { lifeline: PORT, postgraphile: PORT + 1, sql: PORT + 2, compare: PORT + 3 };

function startServer(kind: ServerKind): Promise<ChildProcess> {
  const script =
    kind === 'compare' && COMPARE_DIR
      ? path.join(path.resolve(COMPARE_DIR), 'bench', 'dashboard-server.ts')
      : fileURLToPath(new URL('./dashboard-server.ts', import.meta.url));
  const serverKind = kind === 'compare' ? 'lifeline' : kind;
  // Every server with the flags Lifeline runs with (node-flags.ts): the baselines get the same young generation.
  const child = spawn(process.execPath, [...LIFELINE_NODE_FLAGS, '--import', 'tsx', script, serverKind, String(ports[kind]), benchUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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

/** One server asked for one page. */
interface Target {
  kind: ServerKind;
  label: string;
  body: string;
  headers: Record<string, string>;
  /** The page's account ids in order, and its totalCount when it has one. */
  page: (json: unknown) => { ids: string[]; totalCount: number | null };
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function ids(rows: unknown[], id: (row: unknown) => unknown): string[] {
  return rows.map((row) => String(id(row)));
}
function countOf(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}

function targetsOf(variant: DashboardVariant, token: string): Target[] {
  const lifeline = (kind: 'lifeline' | 'compare', label: string): Target => ({
    kind,
    label,
    body: JSON.stringify({ query: variant.lifelineQuery }),
    headers: { authorization: `Bearer ${token}` },
    page: (json) => {
      const connection = field(field(json, 'data'), 'accounts');
      return { ids: ids(list(field(connection, 'edges')), (edge) => field(field(edge, 'node'), 'id')), totalCount: countOf(field(connection, 'totalCount')) };
    },
  });
  const targets: Target[] = [lifeline('lifeline', 'Lifeline GraphQL')];
  if (COMPARE_DIR) targets.push(lifeline('compare', 'Lifeline (compare)'));
  const postgraphile = variant.postgraphile;
  if ('query' in postgraphile) {
    targets.push({
      kind: 'postgraphile',
      label: 'PostGraphile 4',
      body: JSON.stringify({ query: postgraphile.query }),
      headers: {},
      page: (json) => {
        const connection = field(field(json, 'data'), postgraphile.connection);
        const rows = list(field(connection, 'nodes'));
        const id = postgraphile.connection === 'allAccounts' ? (row: unknown) => field(row, 'id') : (row: unknown) => field(field(row, 'accountByAccountId'), 'id');
        return { ids: ids(rows, id), totalCount: countOf(field(connection, 'totalCount')) };
      },
    });
  }
  targets.push({
    kind: 'sql',
    label: 'Hand-written SQL (postgres.js)',
    body: JSON.stringify({ variant: variant.key }),
    headers: {},
    page: (json) => {
      const rows = list(field(field(json, 'data'), 'accounts'));
      return { ids: ids(rows, (row) => field(row, 'id')), totalCount: countOf(field(rows[0], 'totalCount')) };
    },
  });
  return targets;
}

/** Asks each server for the page once and fails unless all answer the same 50 accounts in the same order. */
async function checkSamePage(variant: DashboardVariant, targets: Target[]): Promise<void> {
  let expected: { ids: string[]; totalCount: number | null; label: string } | undefined;
  for (const target of targets) {
    const response = await fetch(`http://127.0.0.1:${ports[target.kind]}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body: target.body,
    });
    const text = await response.text();
    const json: unknown = response.status === 200 ? JSON.parse(text) : undefined;
    const page = target.page(json);
    if (response.status !== 200 || field(json, 'errors') !== undefined || page.ids.length !== 50) {
      throw new Error(`${target.label} answered ${variant.key} with ${response.status}: ${text.slice(0, 400)}`);
    }
    if (variant.totalCount && page.totalCount === null) throw new Error(`${target.label} answered ${variant.key} without its totalCount`);
    if (!expected) expected = { ...page, label: target.label };
    else if (page.ids.join() !== expected.ids.join() || page.totalCount !== expected.totalCount) {
      const at = page.ids.findIndex((id, index) => id !== expected?.ids[index]);
      throw new Error(
        `${target.label} and ${expected.label} answer ${variant.key} with different pages (first difference at row ${at}; totalCount ${page.totalCount} vs ${expected.totalCount}): the comparison would measure different work.`,
      );
    }
  }
}

interface Measured {
  served: number;
  failed: number;
  seconds: number;
  p50: number;
  p99: number;
}

/**
 * Closed-loop load at fixed concurrency from autocannon in its own process, so the time it spends sending requests
 * and reading responses is not taken from the servers' or this process's event loop.
 */
async function load(target: Target, seconds: number): Promise<Measured> {
  const result = await runAutocannon({
    url: `http://127.0.0.1:${ports[target.kind]}/graphql`,
    connections: CONCURRENCY,
    seconds,
    headers: { 'content-type': 'application/json', ...target.headers },
    body: target.body,
  });
  const number = (value: unknown) => (typeof value === 'number' ? value : Number.NaN);
  return {
    served: number(field(result, '2xx')),
    failed: number(field(result, 'non2xx')) + number(field(result, 'errors')) + number(field(result, 'timeouts')),
    seconds: number(field(result, 'duration')),
    p50: number(field(field(result, 'latency'), 'p50')),
    p99: number(field(field(result, 'latency'), 'p99')),
  };
}

function loadAverage(): string {
  const [oneMinute = Number.NaN] = os.loadavg();
  return `load average ${oneMinute.toFixed(2)} (${oneMinute < 1.5 ? 'quiet: under 1.5' : 'NOT quiet: 1.5 or more, numbers are not comparable'})`;
}

const GOAL_VS_POSTGRAPHILE = 1.5;
const GOAL_VS_SQL = 0.7;
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

interface VariantResult {
  variant: DashboardVariant;
  rps: Map<ServerKind, number>;
}

process.stdout.write(`Start: ${loadAverage()}, ${os.cpus().length} cores\n`);
const token = process.env.BENCH_REUSE === '1' ? await reuseDatabase() : await prepareDatabase();
const kinds: ServerKind[] = ['lifeline', ...(COMPARE_DIR ? ['compare' as const] : []), 'postgraphile', 'sql'];
const children = await Promise.all(kinds.map((kind) => startServer(kind)));
const chosen = process.env.BENCH_VARIANTS?.split(',').map((key) => dashboardVariant(key.trim())) ?? dashboardVariants;
const results: VariantResult[] = [];
try {
  for (const variant of chosen) {
    process.stdout.write(`\n--- ${variant.label} [${variant.key}] --- ${loadAverage()}\n`);
    const targets = targetsOf(variant, token);
    await checkSamePage(variant, targets);
    for (const target of targets) await load(target, WARMUP_SECONDS); // warm-up: plans, pools, JIT
    // Servers measured in alternating rounds, each round starting with the next one, so a burst of load from
    // elsewhere on the machine spreads over all of them instead of skewing one.
    const samples = new Map<ServerKind, Measured[]>(targets.map((target) => [target.kind, []]));
    for (let round = 0; round < ROUNDS; round += 1) {
      const start = round % targets.length;
      for (const target of [...targets.slice(start), ...targets.slice(0, start)]) samples.get(target.kind)?.push(await load(target, SECONDS / ROUNDS));
    }
    const rps = new Map<ServerKind, number>();
    for (const target of targets) {
      const measured = samples.get(target.kind) ?? [];
      const served = measured.reduce((sum, sample) => sum + sample.served, 0);
      const failed = measured.reduce((sum, sample) => sum + sample.failed, 0);
      const seconds = measured.reduce((sum, sample) => sum + sample.seconds, 0);
      const p50 = [...measured.map((sample) => sample.p50)].sort((a, b) => a - b)[Math.floor(measured.length / 2)] ?? Number.NaN;
      const p99 = Math.max(...measured.map((sample) => sample.p99));
      rps.set(target.kind, served / seconds);
      process.stdout.write(
        `${target.label.padEnd(32)} ${(served / seconds).toFixed(0).padStart(6)} req/s   p50 ${p50.toFixed(1).padStart(6)} ms   p99 ${p99.toFixed(1).padStart(6)} ms   (${served} served${failed > 0 ? `, ${failed} FAILED or not 2xx` : ''})\n`,
      );
    }
    if ('unsupported' in variant.postgraphile) process.stdout.write(`PostGraphile 4: not measured: ${variant.postgraphile.unsupported}\n`);
    results.push({ variant, rps });
  }
} finally {
  for (const child of children) child.kill('SIGTERM');
}

process.stdout.write(
  `\nreq/s at concurrency ${CONCURRENCY}, ${SECONDS} s per server and page in ${ROUNDS} round(s), ${ACCOUNTS} accounts; goals: ≥ ${GOAL_VS_POSTGRAPHILE}× PostGraphile, ≥ ${GOAL_VS_SQL}× SQL\n`,
);
const header = `${'page'.padEnd(22)} ${'Lifeline'.padStart(9)} ${'PostGraphile'.padStart(12)} ${'SQL'.padStart(7)}   ${'vs PostGraphile (≥ 1.5×)'.padEnd(26)} ${'vs SQL (≥ 0.7×)'.padEnd(18)}${COMPARE_DIR ? '  vs compare' : ''}\n`;
process.stdout.write(header);
for (const { variant, rps } of results) {
  const lifeline = rps.get('lifeline') ?? Number.NaN;
  const postgraphile = rps.get('postgraphile');
  const handWritten = rps.get('sql') ?? Number.NaN;
  const vsPg = postgraphile === undefined ? 'cannot express the order' : `${(lifeline / postgraphile).toFixed(2)}× ${verdict(lifeline / postgraphile >= GOAL_VS_POSTGRAPHILE)}`;
  const vsSql = `${(lifeline / handWritten).toFixed(2)}× ${verdict(lifeline / handWritten >= GOAL_VS_SQL)}`;
  const compared = rps.get('compare');
  process.stdout.write(
    `${variant.key.padEnd(22)} ${lifeline.toFixed(0).padStart(9)} ${(postgraphile === undefined ? '-' : postgraphile.toFixed(0)).padStart(12)} ${handWritten.toFixed(0).padStart(7)}   ${vsPg.padEnd(26)} ${vsSql.padEnd(18)}${compared === undefined ? '' : `  ${(lifeline / compared).toFixed(2)}×`}\n`,
  );
}
process.stdout.write(`End: ${loadAverage()}\n`);
if (process.env.BENCH_KEEP !== '1') {
  const cleanup = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await cleanup.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
  await cleanup.end();
}
