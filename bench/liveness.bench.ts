// Liveness benchmark: does /healthz answer fast while dashboards hammer the API? 200 connections (autocannon, closed
// loop, in its own process) ask for the at-risk page over the 100k-account book of bench/book.ts, for 20 s, while
// this process asks /healthz every 50 ms, as an orchestrator's probe does. Lifeline runs as it does in production
// (main.ts, its own process, PostgreSQL, jobs off), twice in the same run: with its lanes as configured
// (admission.ts; the defaults unless LIFELINE_API_MAX_IN_FLIGHT / LIFELINE_API_MAX_QUEUED are set), and with the
// lanes opened wide (every request worked on at once, as before admission control), the baseline the first is
// compared with. Prints the load average at the start (a run is comparable only on a quiet machine, under 1.5), the
// page requests served and refused with 503 apart, /healthz p50/p99/max during the burst and whether the goal
// (p99 under 100 ms) is met, and the lanes' figures from /metrics.
// BENCH_ACCOUNTS (default 100000), BENCH_SECONDS of burst (default 20), BENCH_CONNECTIONS (default 200),
// BENCH_PROBE_MS between /healthz probes (default 50), BENCH_WARMUP seconds at 8 connections before each burst
// (default 2), BENCH_BASELINE=0 skips the wide-open run. BENCH_KEEP=1 keeps the database.
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { LIFELINE_NODE_FLAGS } from '../node-flags.ts';
import { runAutocannon } from './autocannon.ts';
import { generateBenchBook } from './book.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 200);
const PROBE_MS = Number(process.env.BENCH_PROBE_MS ?? 50);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 2);
const BASELINE = process.env.BENCH_BASELINE !== '0';
const BENCH_DB = 'lifeline_bench_liveness';
const GOAL_P99_MS = 100;
/** A probe slower than this counts as failed, as an orchestrator's timeout would. */
const PROBE_TIMEOUT_MS = 10_000;

const AT_RISK_PAGE =
  '{ accounts(first: 50, orderBy: health, filter: { healthStatus: at_risk }) { totalCount edges { node { id name health { score status reasons } } } } }';
const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

function loadAverage(): string {
  const [oneMinute = Number.NaN] = os.loadavg();
  return `load average ${oneMinute.toFixed(2)} (${oneMinute < 1.5 ? 'quiet: under 1.5' : 'NOT quiet: 1.5 or more, numbers are not comparable'})`;
}

interface Running {
  child: ChildProcess;
  url: string;
  metricsUrl: string;
}

/** Lifeline as an operator runs it (main.ts), in its own process, with `lanes` added to its environment. */
function startLifeline(databaseUrl: string, port: number, lanes: Record<string, string>): Promise<Running> {
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    METRICS_PORT: String(port + 1),
    METRICS_HOST: '127.0.0.1',
    LIFELINE_JOBS: 'off',
    LIFELINE_SEED_DEMO: 'never',
    LOG_LEVEL: 'warn',
    ...lanes,
  };
  const child = spawn(process.execPath, [...LIFELINE_NODE_FLAGS, '--import', 'tsx', MAIN], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Lifeline did not start within 60 s')), 60_000);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Lifeline is running on')) {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${port}`, metricsUrl: `http://127.0.0.1:${port + 1}/metrics` });
      }
    });
    child.once('exit', (code) => reject(new Error(`Lifeline exited with ${code}: ${output.slice(-400)}`)));
  });
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Asks for the page once and fails unless it is 50 at-risk accounts with a totalCount. */
async function checkPage(url: string, token: string): Promise<number> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: AT_RISK_PAGE }),
  });
  const text = await response.text();
  const json: unknown = response.status === 200 ? JSON.parse(text) : undefined;
  const connection = field(field(json, 'data'), 'accounts');
  const edges = field(connection, 'edges');
  const totalCount = field(connection, 'totalCount');
  if (response.status !== 200 || field(json, 'errors') !== undefined || !Array.isArray(edges) || edges.length !== 50 || typeof totalCount !== 'number') {
    throw new Error(`the at-risk page answered ${response.status}: ${text.slice(0, 400)}`);
  }
  return totalCount;
}

interface Burst {
  byStatus: Map<string, number>;
  /** Connection errors, and requests unanswered after autocannon's 10 s. */
  errors: number;
  timeouts: number;
  seconds: number;
}

/** Closed-loop load from autocannon in its own process, so sending and reading takes nothing from ours or Lifeline's loop. */
async function hammer(url: string, token: string, connections: number, seconds: number): Promise<Burst> {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const result = await runAutocannon({ url: `${url}/graphql`, connections, seconds, headers, body: JSON.stringify({ query: AT_RISK_PAGE }) });
  const stats = field(result, 'statusCodeStats');
  const byStatus = new Map<string, number>();
  for (const [status, value] of Object.entries(typeof stats === 'object' && stats !== null ? stats : {})) byStatus.set(status, Number(field(value, 'count')));
  return {
    byStatus,
    errors: Number(field(result, 'errors')) - Number(field(result, 'timeouts')),
    timeouts: Number(field(result, 'timeouts')),
    seconds: Number(field(result, 'duration')),
  };
}

/** Asks /healthz every PROBE_MS until `until` settles; each probe's latency in ms, Infinity for a failed one. */
async function probe(url: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await response.text();
      latencies.push(response.status === 200 ? performance.now() - started : Number.POSITIVE_INFINITY);
    } catch {
      latencies.push(Number.POSITIVE_INFINITY);
    }
    const wait = PROBE_MS - (performance.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return latencies;
}

interface Figures {
  inFlight: number;
  queued: number;
  rejected: number;
  /** Lifeline's own event-loop delay since the previous scrape (prom-client resets it at each), in ms. */
  loopP99: number;
  loopMax: number;
}

/** The lanes' figures and the event loop's delay at one scrape of /metrics (METRICS_PORT). */
async function scrape(metricsUrl: string): Promise<Figures> {
  const lines = (await (await fetch(metricsUrl)).text()).split('\n');
  const value = (prefix: string) => Number(/\S+ (\S+)$/.exec(lines.find((line) => line.startsWith(prefix)) ?? '')?.[1] ?? Number.NaN);
  return {
    inFlight: value('lifeline_http_in_flight{lane="api"} '),
    queued: value('lifeline_http_queue_depth{lane="api"} '),
    rejected: value('lifeline_http_rejected_total{lane="api"} '),
    loopP99: value('nodejs_eventloop_lag_p99_seconds ') * 1000,
    loopMax: value('nodejs_eventloop_lag_max_seconds ') * 1000,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface RunResult {
  label: string;
  served: number;
  refused: number;
  other: number;
  seconds: number;
  probes: number;
  failedProbes: number;
  p50: number;
  p99: number;
  max: number;
}

async function measure(label: string, databaseUrl: string, token: string, port: number, lanes: Record<string, string>): Promise<RunResult> {
  const lifeline = await startLifeline(databaseUrl, port, lanes);
  try {
    const totalCount = await checkPage(lifeline.url, token);
    process.stdout.write(`\n--- ${label} --- ${loadAverage()}; the page: 50 of ${totalCount} at-risk accounts\n`);
    if (WARMUP_SECONDS > 0) await hammer(lifeline.url, token, 8, WARMUP_SECONDS); // plans, pool, JIT
    const idle = await probe(lifeline.url, new Promise((resolve) => setTimeout(resolve, 1_000)));
    const burst = hammer(lifeline.url, token, CONNECTIONS, SECONDS);
    let deepest = { inFlight: 0, queued: 0 };
    const loop = { p99: 0, max: 0 };
    await scrape(lifeline.metricsUrl); // starts the event-loop delay afresh
    const scraping = (async () => {
      let finished = false;
      void burst.finally(() => (finished = true));
      while (!finished) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const figures = await scrape(lifeline.metricsUrl).catch(() => undefined);
        if (!figures) continue;
        if (figures.inFlight + figures.queued >= deepest.inFlight + deepest.queued) deepest = figures;
        loop.p99 = Math.max(loop.p99, figures.loopP99);
        loop.max = Math.max(loop.max, figures.loopMax);
      }
    })();
    const latencies = await probe(lifeline.url, burst);
    const result = await burst;
    await scraping;
    const after = await scrape(lifeline.metricsUrl);
    const sorted = latencies.filter(Number.isFinite).sort((a, b) => a - b);
    const idleSorted = idle.filter(Number.isFinite).sort((a, b) => a - b);
    const served = result.byStatus.get('200') ?? 0;
    const refused = result.byStatus.get('503') ?? 0;
    const others = [...result.byStatus].filter(([status]) => status !== '200' && status !== '503');
    const other = others.reduce((sum, [, count]) => sum + count, 0) + result.errors + result.timeouts;
    const otherText = [...others.map(([status, count]) => `${count} answered ${status}`), ...(result.timeouts > 0 ? [`${result.timeouts} unanswered after 10 s`] : []), ...(result.errors > 0 ? [`${result.errors} connection errors`] : [])].join(', ');
    const run: RunResult = {
      label,
      served,
      refused,
      other,
      seconds: result.seconds,
      probes: latencies.length,
      failedProbes: latencies.length - sorted.length,
      // A failed probe counts as the slowest.
      p50: percentile([...sorted, ...latencies.filter((latency) => !Number.isFinite(latency))], 50),
      p99: percentile([...sorted, ...latencies.filter((latency) => !Number.isFinite(latency))], 99),
      max: latencies.length === 0 ? Number.NaN : Math.max(...latencies),
    };
    process.stdout.write(
      `page requests: ${served} served (${(served / result.seconds).toFixed(0)} req/s), ${refused} refused with 503${other > 0 ? `; OTHER: ${otherText}` : ''} in ${result.seconds} s at ${CONNECTIONS} connections\n` +
        `/healthz idle: p50 ${percentile(idleSorted, 50).toFixed(1)} ms, max ${(idleSorted.at(-1) ?? Number.NaN).toFixed(1)} ms (${idle.length} probes)\n` +
        `/healthz during the burst: p50 ${run.p50.toFixed(1)} ms   p99 ${run.p99.toFixed(1)} ms   max ${run.max.toFixed(1)} ms   (${run.probes} probes${run.failedProbes > 0 ? `, ${run.failedProbes} FAILED or over ${PROBE_TIMEOUT_MS} ms` : ''})\n` +
        `lanes (/metrics, api): fullest scrape ${deepest.inFlight} in flight + ${deepest.queued} queued; ${after.rejected} rejected in all\n` +
        // Delay inside Lifeline's loop, apart from the time the machine gives the process: on a loaded machine a
        // probe can wait for a CPU while the loop itself is free.
        `Lifeline's event-loop delay during the burst (worst second): p99 ${loop.p99.toFixed(1)} ms, max ${loop.max.toFixed(1)} ms\n` +
        `goal /healthz p99 < ${GOAL_P99_MS} ms: ${run.p99 < GOAL_P99_MS ? 'met' : 'NOT met'}\n`,
    );
    return run;
  } finally {
    lifeline.child.kill('SIGTERM');
    await new Promise((resolve) => lifeline.child.once('exit', resolve));
  }
}

process.stdout.write(`Start: ${loadAverage()}, ${os.cpus().length} cores\n`);
const { url: databaseUrl, token } = await generateBenchBook({ serverUrl, name: BENCH_DB, accounts: ACCOUNTS });
const configured = Object.fromEntries(
  ['LIFELINE_API_MAX_IN_FLIGHT', 'LIFELINE_API_MAX_QUEUED'].flatMap((name) => (process.env[name] ? [[name, process.env[name] as string]] : [])),
);
const results: RunResult[] = [];
try {
  results.push(await measure(`Lifeline, lanes ${Object.keys(configured).length > 0 ? JSON.stringify(configured) : 'at their defaults'}`, databaseUrl, token, 4311, {}));
  if (BASELINE) {
    // Every request worked on at once and none refused: how Lifeline behaved before admission control.
    results.push(await measure('Lifeline, lanes wide open (baseline)', databaseUrl, token, 4321, { LIFELINE_API_MAX_IN_FLIGHT: '10000', LIFELINE_API_MAX_QUEUED: '0' }));
  }
} finally {
  if (process.env.BENCH_KEEP !== '1') {
    const cleanup = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await cleanup.unsafe(`drop database if exists ${BENCH_DB} with (force)`);
    await cleanup.end();
  }
}

process.stdout.write(`\n${ACCOUNTS} accounts, ${CONNECTIONS} connections for ${SECONDS} s, /healthz every ${PROBE_MS} ms; goal: /healthz p99 < ${GOAL_P99_MS} ms\n`);
process.stdout.write(`${'run'.padEnd(40)} ${'served'.padStart(8)} ${'503'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}  goal\n`);
for (const run of results) {
  process.stdout.write(
    `${run.label.slice(0, 40).padEnd(40)} ${String(run.served).padStart(8)} ${String(run.refused).padStart(8)} ${run.p50.toFixed(1).padStart(8)} ${run.p99.toFixed(1).padStart(8)} ${run.max.toFixed(1).padStart(8)}  ${run.p99 < GOAL_P99_MS ? 'met' : 'NOT met'}\n`,
  );
}
const [lanes, wide] = results;
if (lanes && wide) process.stdout.write(`/healthz p99, wide open ÷ lanes: ${(wide.p99 / lanes.p99).toFixed(1)}×\n`);
process.stdout.write(`End: ${loadAverage()}\n`);
