import { readFileSync } from 'node:fs';
import { WebClient } from '@slack/web-api';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../db/schema.ts';
import { createWebhookEndpoint } from '../domain/webhooks.ts';
import { runJobByHand } from '../jobs/run.ts';
import { meteredSlackFetch } from '../metrics.ts';
import { type MetricsServer, startMetricsServer } from '../server.ts';
import { createAccountWithHealth } from './support/health.ts';
import { createToken, createUser } from './support/factories.ts';
import { useSlackHarness } from './support/slack-harness.ts';
import type { SlackHarness } from './support/slack-harness.ts';
import { silentLogger } from './support/graphql.ts';

let harness: SlackHarness;
let metrics: MetricsServer;
let adminToken: string;

useSlackHarness({}, async (started) => {
  harness = started;
  adminToken = await createToken(started.database.db, 'admin', await createUser(started.database.db, { role: 'admin' }));
});
beforeAll(async () => {
  metrics = await startMetricsServer({ database: harness.database, logger: silentLogger, port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await metrics?.close();
});

/** The exposition parsed: each sample's metric name, labels and value. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1], pair[2]]));
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

async function scrape() {
  const response = await fetch(metrics.url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return samples(await response.text());
}

function value(all: ReturnType<typeof samples>, name: string, labels: Record<string, string> = {}): number | undefined {
  return all.find((sample) => sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted))?.value;
}

describe('/metrics on its own port', () => {
  it('shows the outbox, parked rows and their age, health, jobs, GraphQL, deliveries and Slack calls', async () => {
    const { db } = harness.database;
    await createAccountWithHealth(db, { name: 'Metered Co' }, { score: 35, status: 'critical' });
    await createAccountWithHealth(db, { name: 'Metered Two' }, { score: 55, status: 'at_risk' });
    const { endpoint } = await createWebhookEndpoint(db, { url: 'https://hooks.example.test/metrics', eventTypes: ['task.created'], actor: { userId: null, role: 'admin', label: 'Metrics test' } });
    await db.insert(outbox).values([
      { kind: 'webhook', dedupeKey: 'metrics:parked', target: `webhook:${endpoint.id}`, payload: {}, status: 'parked', lastError: 'Gave up' },
      { kind: 'alert', dedupeKey: 'metrics:pending', target: 'CMETRICS01', payload: {}, createdAt: new Date(Date.now() - 120_000), nextAttemptAt: new Date(Date.now() + 3_600_000) },
    ]);
    await runJobByHand(db, { name: 'renewals', jobs: harness.lifeline.jobs.jobs, logger: silentLogger });
    // A GraphQL query by name, one refused, and a Slack call answered 429.
    for (const token of [adminToken, 'not-a-token']) {
      await fetch(`${harness.lifeline.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'query StagesForMetrics { stages { key } }', operationName: 'StagesForMetrics' }),
      });
    }
    await fetch(`${harness.lifeline.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ query: 'mutation BadForMetrics { moveAccountStage(input: { accountId: "nope", toStage: "onboarding", expectedVersion: 1 }) { account { id } } }' }),
    });
    harness.fake.failWhen('chat.postMessage', () => ({ status: 429, retryAfterSeconds: 1 }));
    const client = new WebClient('xoxb-test', { slackApiUrl: harness.fake.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, fetch: meteredSlackFetch });
    await expect(client.chat.postMessage({ channel: 'CMETRICS01', text: 'hi' })).rejects.toThrow();
    await harness.lifeline.delivery.drainOnce();

    const all = await scrape();
    expect(value(all, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(all, 'lifeline_outbox_rows', { status: 'parked', kind: 'webhook', target: 'webhook' })).toBe(1);
    expect(value(all, 'lifeline_outbox_parked', { target: 'webhook' })).toBe(1);
    expect(value(all, 'lifeline_outbox_oldest_pending_age_seconds', { target: 'slack' })).toBeGreaterThanOrEqual(110);
    expect(value(all, 'lifeline_outbox_oldest_pending_age_seconds', { target: 'webhook' })).toBe(0);
    expect(value(all, 'lifeline_accounts_by_health_status', { status: 'critical' })).toBe(1);
    expect(value(all, 'lifeline_accounts_by_health_status', { status: 'at_risk' })).toBe(1);
    expect(value(all, 'lifeline_job_last_success_timestamp_seconds', { job: 'renewals' })).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(value(all, 'lifeline_job_runs_total', { job: 'renewals', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(value(all, 'lifeline_job_duration_seconds_count', { job: 'renewals', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(value(all, 'lifeline_graphql_operations_total', { operation: 'StagesForMetrics', type: 'query' })).toBe(1);
    expect(value(all, 'lifeline_graphql_operation_duration_seconds_count', { operation: 'StagesForMetrics' })).toBe(1);
    expect(value(all, 'lifeline_graphql_errors_total', { operation: 'BadForMetrics', code: 'NOT_FOUND' })).toBe(1);
    expect(value(all, 'lifeline_graphql_operations_total', { operation: 'BadForMetrics', type: 'mutation' })).toBe(1);
    expect(value(all, 'lifeline_slack_rate_limited_total', { method: 'chat.postMessage' })).toBeGreaterThanOrEqual(1);
    expect(value(all, 'lifeline_slack_api_calls_total', { method: 'chat.postMessage', status: '429' })).toBeGreaterThanOrEqual(1);
    expect(value(all, 'lifeline_metrics_database_up')).toBe(1);
    // The metrics port serves nothing else.
    expect((await fetch(metrics.url.replace('/metrics', '/graphql'))).status).toBe(404);
  });

  it('every metric the alert rules and the dashboard use is one /metrics exposes', async () => {
    const exposed = new Set((await scrape()).map((sample) => sample.name));
    const rules = parseYaml(readFileSync(new URL('../ops/prometheus-alerts.yml', import.meta.url), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const expressions = rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
    const dashboard = JSON.parse(readFileSync(new URL('../ops/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    expressions.push(...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)));
    expect(expressions.length).toBeGreaterThan(8);
    const used = new Set(expressions.flatMap((expr) => [...expr.matchAll(/\b(lifeline_[a-z_]+|process_[a-z_]+|nodejs_[a-z_]+)\b/g)].map((match) => match[1] as string)));
    expect(used.size).toBeGreaterThan(5);
    const missing = [...used].filter((name) => !exposed.has(name));
    expect(missing).toEqual([]);
  });
});
