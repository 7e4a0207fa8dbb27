import { WebClient } from '@slack/web-api';
import { count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.ts';
import { queryRows } from '../db/client.ts';
import { type HealthWordsSource, accounts, lifecycleStages, users } from '../db/schema.ts';
import { seedDemoBook } from '../demo/book.ts';
import { healthCalibration } from '../domain/health/calibration.ts';
import { healthReasons, healthWordsJson, healthWordsOf } from '../domain/health/words.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import { DEMO_BOOK_TIMEOUT, createTestDatabase, useTestDatabase } from './support/database.ts';
import { silentLogger } from './support/graphql.ts';

const database = useTestDatabase();
let lifeline: Lifeline;
const printed: string[] = [];

beforeAll(async () => {
  lifeline = await startLifeline({
    config: parseConfig({ PORT: '0' }),
    database,
    logger: silentLogger,
    host: '127.0.0.1',
    printLocal: (line) => printed.push(line),
  });
});
afterAll(async () => {
  await lifeline?.close();
});

describe('the HTTP server', () => {
  it('serves /healthz and /readyz openly, keeps /metrics to its own port, and says where to go for an unknown path', async () => {
    expect(await (await fetch(`${lifeline.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${lifeline.url}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await fetch(`${lifeline.url}/metrics`);
    expect(metrics.status).toBe(404);
    expect(await metrics.text()).toMatch(/served on their own port \(METRICS_PORT/);
    const missing = await fetch(`${lifeline.url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/Try \/graphql/);
  });

  it('serves GraphiQL to a browser without a token, but no data', async () => {
    const page = await fetch(`${lifeline.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/Lifeline GraphQL/);
    const data = await fetch(`${lifeline.url}/graphql?query=${encodeURIComponent('{ stages { key } }')}`, { headers: { accept: 'application/json' } });
    expect(data.status).toBe(401);
  });
});

describe('CORS by default', () => {
  it('no other web origin may call the API from a browser: its requests and preflights get no CORS headers', async () => {
    const foreign = 'https://evil.example';
    const response = await fetch(`${lifeline.url}/graphql?query=${encodeURIComponent('{ stages { key } }')}`, { headers: { accept: 'application/json', origin: foreign } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    const preflight = await fetch(`${lifeline.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: foreign, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('local mode (no SLACK_BOT_TOKEN)', () => {
  it('answers the Web API like Slack, prints messages readably and keeps them for the simulator page', async () => {
    expect(lifeline.localSlack).toBeDefined();
    const client = new WebClient('xoxb-local-preview', { slackApiUrl: `${lifeline.url}/local-slack/api/`, retryConfig: { retries: 0 } });
    const posted = await client.chat.postMessage({
      channel: 'C-HANDOFFS',
      text: 'New customer: Acme',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'New customer: Acme' } },
        { type: 'section', text: { type: 'mrkdwn', text: 'AE <@U1> hands over to CSM <@U2>' } },
      ],
    });
    expect(posted.ok).toBe(true);
    expect(posted.ts).toMatch(/^\d+\.\d{6}$/);
    expect(printed.join('\n')).toMatch(/Slack chat\.postMessage → C-HANDOFFS\n│ == New customer: Acme ==\n│ AE @U1 hands over to CSM @U2/);
    const state = await (await fetch(`${lifeline.url}/local-slack/state`)).json();
    expect(state.conversations).toContainEqual(expect.objectContaining({ id: 'C-HANDOFFS', messages: [expect.objectContaining({ ts: posted.ts, text: 'New customer: Acme' })] }));
    // The old preview address leads to the simulator.
    const preview = await fetch(`${lifeline.url}/local-slack/preview`, { redirect: 'manual' });
    expect(preview.headers.get('location')).toBe('/local-slack');
  });
});

describe('the demo book', () => {
  it('seeds 48 accounts across every stage, people with Slack ids, a consistent history and their signals; only once', async () => {
    const demo = await createTestDatabase();
    try {
      const first = await seedDemoBook(demo.db, new Date('2026-11-25T09:00:00Z'));
      expect(first.seeded).toBe(true);
      expect(first.admin?.role).toBe('admin');
      const [accountTotal] = await demo.db.select({ total: count() }).from(accounts);
      expect(accountTotal?.total).toBe(48);
      const perStage = await demo.db
        .select({ stage: lifecycleStages.key, total: count(accounts.id) })
        .from(lifecycleStages)
        .leftJoin(accounts, eq(accounts.stageKey, lifecycleStages.key))
        .groupBy(lifecycleStages.key);
      for (const row of perStage) expect(row.total, `accounts in ${row.stage}`).toBeGreaterThan(0);
      const people = await demo.db.select().from(users);
      expect(people.every((person) => person.slackUserId?.startsWith('U'))).toBe(true);
      // Every account's version equals the length of its history, and the chain has no gaps.
      const broken = await queryRows(
        demo.db,
        sql`select a.id from accounts a join stage_transitions t on t.account_id = a.id
            group by a.id, a.version having count(*) <> a.version or max(t.account_version) <> a.version`,
      );
      expect(broken).toEqual([]);
      const backward = await queryRows<{ total: number }>(demo.db, sql`select count(*)::int as total from stage_transitions where direction = 'backward'`);
      expect(backward[0]?.total).toBeGreaterThan(0);

      // Signals behind every kind of health: every live account has a score, and those at risk say why.
      const scores = await queryRows<{ status: string; words: HealthWordsSource | string }>(
        demo.db,
        sql`select h.status, ${healthWordsJson('h')} as words
            from account_health h join accounts a on a.id = h.account_id join lifecycle_stages s on s.key = a.stage_key
            where not s.terminal`,
      );
      const health = [...new Set(scores.map((score) => score.status))].map((status) => {
        const ofStatus = scores.filter((score) => score.status === status);
        return { status, accounts: ofStatus.length, with_reasons: ofStatus.filter((score) => healthReasons(healthWordsOf(score.words)).length > 0).length };
      });
      const byStatus = Object.fromEntries(health.map((row) => [row.status, row]));
      expect(health.reduce((sum, row) => sum + row.accounts, 0)).toBe(37);
      expect(byStatus.healthy?.accounts).toBeGreaterThan(20);
      expect((byStatus.at_risk?.accounts ?? 0) + (byStatus.critical?.accounts ?? 0)).toBeGreaterThanOrEqual(3);
      for (const row of health.filter((entry) => entry.status !== 'healthy')) expect(row.with_reasons, `${row.status} accounts with reasons`).toBe(row.accounts);
      const [lowest] = await queryRows<{ words: HealthWordsSource | string }>(demo.db, sql`select ${healthWordsJson('h')} as words from account_health h order by score limit 1`);
      const falling = lowest && { reasons: healthReasons(healthWordsOf(lowest.words)) };
      expect(falling?.reasons.join(' ')).toMatch(/active users down \d+% vs prior 4 weeks/);
      // Handoffs at every step, one still pending past its SLA; renewals in and ahead of their window.
      const handoffs = await queryRows<{ status: string; overdue: boolean }>(demo.db, sql`select status, sla_due_at < ${'2026-11-25T09:00:00Z'}::timestamptz as overdue from handoffs`);
      expect(new Set(handoffs.map((row) => row.status))).toEqual(new Set(['pending', 'confirmed', 'accepted', 'kickoff_scheduled']));
      expect(handoffs.find((row) => row.status === 'pending')?.overdue).toBe(true);
      const renewalStatuses = await queryRows<{ status: string }>(demo.db, sql`select distinct status::text from renewals`);
      expect(renewalStatuses.map((row) => row.status).sort()).toEqual(['open', 'upcoming']);
      // A revenue ledger with expansion, contraction and churn, so NRR and GRR differ.
      const ledger = await queryRows<{ kind: string }>(demo.db, sql`select distinct kind::text from revenue_changes`);
      expect(ledger.map((row) => row.kind).sort()).toEqual(['churn', 'contraction', 'expansion', 'new']);

      // Work to do from the first morning: tasks the rules created and tasks people gave, some due today, some late.
      const work = await queryRows<{ source: string; due: string }>(
        demo.db,
        sql`select source::text, case when due_on < '2026-11-25' then 'late' when due_on = '2026-11-25' then 'today' else 'later' end as due from tasks group by 1, 2`,
      );
      expect(new Set(work.map((row) => row.source))).toEqual(new Set(['rule_firing', 'renewal_checkpoint', 'person', 'playbook']));
      expect(new Set(work.map((row) => row.due))).toEqual(new Set(['late', 'today', 'later']));
      // Running plays: onboarding for every account still onboarding, risk for Critical ones, started by their CSM.
      const plays = await queryRows<{ key: string; running: number }>(
        demo.db,
        sql`select p.key, count(*)::int as running from playbook_runs r join playbooks p on p.id = r.playbook_id where r.status = 'running' group by 1 order by 1`,
      );
      const running = new Map(plays.map((row) => [row.key, row.running]));
      const [onboarding] = await queryRows<{ total: number }>(demo.db, sql`select count(*)::int as total from accounts where stage_key = 'onboarding'`);
      expect(running.get('onboarding')).toBe(onboarding?.total);
      expect(running.get('risk')).toBeGreaterThan(0);

      // People on the customer's side: a champion and a sponsor for every account, one champion who left (its signal
      // fired once), NPS answers from contacts, and the CSMs' sentiment with some history.
      const keyPeople = await queryRows<{ missing: number }>(
        demo.db,
        sql`select count(*)::int as missing from accounts a
            where not exists (select 1 from contacts c where c.account_id = a.id and c.role = 'champion')
               or not exists (select 1 from contacts c where c.account_id = a.id and c.role = 'executive_sponsor')`,
      );
      expect(keyPeople[0]?.missing).toBe(0);
      const departed = await queryRows<{ name: string; fired: number }>(
        demo.db,
        sql`select a.name, (select count(*)::int from rule_firings f where f.rule = 'champion_left' and f.occasion = c.id::text) as fired
            from contacts c join accounts a on a.id = c.account_id where c.left_at is not null`,
      );
      expect(departed).toEqual([{ name: 'Meridian Bank', fired: 1 }]);
      const linkedAnswers = await queryRows<{ total: number }>(
        demo.db,
        sql`select count(*)::int as total from survey_responses s join contacts c on c.account_id = s.account_id and lower(c.email) = lower(s.respondent_email)`,
      );
      expect(linkedAnswers[0]?.total).toBeGreaterThan(0);
      const sentimentHistory = await queryRows<{ accounts: number; longest: number }>(
        demo.db,
        sql`select count(*)::int as accounts, max(n)::int as longest from (select account_id, count(*) as n from csm_sentiments group by account_id) h`,
      );
      expect(sentimentHistory[0]?.accounts).toBeGreaterThan(20);
      expect(sentimentHistory[0]?.longest).toBe(3);

      // Nine months of weekly health history with the churns after it: a calibration that can conclude, and in which
      // the worse statuses were followed by churn more often than the base rate.
      const demoAdmin = { userId: null, role: 'admin', label: 'Demo check' } as const;
      const calibration = await healthCalibration(demo.db, { reader: demoAdmin, from: '2026-02-25', to: '2026-11-25', horizonDays: 90 });
      expect(calibration).toMatchObject({ conclusive: true, note: null });
      expect(calibration.churnEvents).toBeGreaterThanOrEqual(10);
      const lift = (status: string) => calibration.statuses.find((row) => row.status === status)?.lift ?? 0;
      expect(lift('healthy')).toBeLessThan(1);
      expect(lift('at_risk')).toBeGreaterThan(1);
      expect(lift('critical')).toBeGreaterThan(lift('at_risk'));
      expect(calibration.components.find((row) => row.component === 'usage')?.lift).toBeGreaterThan(1);

      const second = await seedDemoBook(demo.db);
      expect(second.seeded).toBe(false);
      const [again] = await demo.db.select({ total: count() }).from(accounts);
      expect(again?.total).toBe(48);
    } finally {
      await demo.destroy();
    }
  }, DEMO_BOOK_TIMEOUT);
});

describe('readiness', () => {
  it('reports 503 on /readyz when the database is gone, while /healthz stays up', async () => {
    const doomed = await createTestDatabase();
    const server = await startLifeline({ config: parseConfig({ PORT: '0' }), database: doomed, logger: silentLogger, host: '127.0.0.1', printLocal: () => {} });
    try {
      await doomed.destroy();
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'database unavailable' });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
