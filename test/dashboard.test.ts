import { existsSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import { type Browser, type BrowserContext, type Page, type Request, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP } from '../api/dashboard.ts';
import { parseConfig } from '../config.ts';
import { users } from '../db/schema.ts';
import { seedDemoBook } from '../demo/book.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import { useTestDatabase } from './support/database.ts';
import { createToken } from './support/factories.ts';
import { silentLogger } from './support/graphql.ts';

// The manager's dashboard as a manager and a CSM meet it, in a real browser (Debian's chromium through
// playwright-core) on the demo book: signed in with a pasted token, offline (every request goes to Lifeline itself),
// under its Content-Security-Policy, every figure checked against what the API answers for the same period.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const shots = process.env.LIFELINE_SCREENSHOTS;

const database = useTestDatabase();
let lifeline: Lifeline;
let browser: Browser;
let managerToken: string;
let csmToken: string;
let csmName: string;

beforeAll(async () => {
  await seedDemoBook(database.db, new Date());
  const [maya] = await database.db.select().from(users).where(eq(users.email, 'maya@lifeline.example'));
  const [sam] = await database.db.select().from(users).where(eq(users.email, 'sam@lifeline.example'));
  if (!maya || !sam) throw new Error('the demo book has no manager Maya or CSM Sam');
  managerToken = await createToken(database.db, 'manager', maya);
  csmToken = await createToken(database.db, 'csm', sam);
  csmName = sam.name;
  lifeline = await startLifeline({ config: parseConfig({ PORT: '0' }), database, logger: silentLogger, host: '127.0.0.1', printLocal: () => {} });
  if (!existsSync(CHROMIUM)) throw new Error(`No browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await lifeline?.close();
});

async function api<T>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${lifeline.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data: T; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data;
}

interface Session {
  context: BrowserContext;
  page: Page;
  /** Requests the page tried to send anywhere but Lifeline. */
  elsewhere: string[];
  /** Console errors and uncaught exceptions, CSP violations among them. */
  problems: string[];
}

async function openSession(width = 1280, height = 900): Promise<Session> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const elsewhere: string[] = [];
  const problems: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === lifeline.url || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    elsewhere.push(url.href);
    return route.abort();
  });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return { context, page, elsewhere, problems };
}

async function signIn(page: Page, token: string): Promise<number> {
  await page.goto(`${lifeline.url}/dashboard`);
  await page.getByLabel('API token').fill(token);
  const started = Date.now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForFunction(() => document.documentElement.dataset.state === 'ready');
  return Date.now() - started;
}

/** Opens a view by its address and waits until its data is on the page. */
async function openView(page: Page, hash: string): Promise<void> {
  await page.evaluate((next) => {
    document.documentElement.dataset.state = 'navigating';
    location.hash = next;
  }, hash);
  await page.waitForFunction(() => document.documentElement.dataset.state === 'ready');
}

async function shoot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

describe('the dashboard', () => {
  it('is served from Lifeline under a strict policy, with its code and uPlot from this server, never a CDN', async () => {
    const page = await fetch(`${lifeline.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    for (const file of ['app.js', 'dashboard.css', 'charts.js', 'views/retention.js', 'vendor/uPlot.esm.js', 'vendor/uPlot.min.css']) {
      const response = await fetch(`${lifeline.url}/dashboard/${file}`);
      expect({ file, status: response.status }).toEqual({ file, status: 200 });
      expect(response.headers.get('content-type')).toMatch(file.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      await response.arrayBuffer();
    }
    expect((await fetch(`${lifeline.url}/dashboard/../server.ts`)).status).toBe(404);
    expect((await fetch(`${lifeline.url}/dashboard/nothing.js`)).status).toBe(404);
  });

  it('shows a manager the same NRR, GRR and at-risk count as the API, every view, and an account’s health history', async () => {
    const { context, page, elsewhere, problems } = await openSession();
    try {
      const signInMs = await signIn(page, managerToken);
      await expect.poll(() => page.locator('#who-role').textContent()).toBe('Manager');
      expect(await page.locator('#who-name').textContent()).toBe('Maya Patel');
      // The token is in session storage, never in the address.
      expect(page.url()).not.toContain(managerToken.slice(0, 12));
      expect(await page.evaluate(() => Object.values(sessionStorage))).toContain(managerToken);

      // Retention: the headline NRR and GRR are those of metrics(from, to) over the period the page names.
      const figures = page.locator('.figures[data-period-from]');
      const from = await figures.getAttribute('data-period-from');
      const to = await figures.getAttribute('data-period-to');
      const metrics = await api<{ metrics: { groups: { revenue: { nrr: number | null; grr: number | null } }[] } }>(
        managerToken,
        'query ($from: Date!, $to: Date!) { metrics(from: $from, to: $to) { groups { revenue { nrr grr } } } }',
        { from, to },
      );
      const expected = metrics.metrics.groups[0]?.revenue;
      expect(expected?.nrr).not.toBeNull();
      for (const metric of ['nrr', 'grr'] as const) {
        const shown = page.locator(`[data-metric="${metric}"]`);
        expect(Number(await shown.getAttribute('data-value'))).toBe(expected?.[metric]);
        const text = await page.evaluate((value) => new Intl.NumberFormat(undefined, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(value), expected?.[metric] ?? 0);
        expect(await shown.locator('.figure-value').textContent()).toBe(text);
      }
      expect(await page.locator('[data-chart="retention"] canvas').count()).toBeGreaterThan(0);
      expect(await page.locator('[data-chart="waterfall"] canvas').count()).toBeGreaterThan(0);
      // Every chart has its formula a click away.
      const formula = page.locator('[data-chart="retention"] details.formula');
      await formula.locator('summary').click();
      await expect.poll(() => formula.locator('p').first().isVisible()).toBe(true);
      expect(await formula.textContent()).toMatch(/NRR = cohort MRR at the end of the month ÷ cohort MRR at its start/);
      await shoot(page, 'dashboard-retention');

      // The same page opened again with the token already in the tab: from navigation to usable, and how long each
      // GraphQL request of it took, from sending to the last byte.
      const requestMs: string[] = [];
      const timeRequest = (request: Request) => {
        if (request.url() !== `${lifeline.url}/graphql`) return;
        const operation = /query (\w+)/.exec(request.postData() ?? '')?.[1] ?? 'query';
        requestMs.push(`${operation} ${Math.round(request.timing().responseEnd)} ms`);
      };
      page.on('requestfinished', timeRequest);
      const loadStarted = Date.now();
      await page.reload();
      await page.waitForFunction(() => document.documentElement.dataset.state === 'ready');
      const reloadMs = Date.now() - loadStarted;
      page.off('requestfinished', timeRequest);
      const graphqlRequests: string[] = [];
      page.on('request', (request) => {
        if (request.url() === `${lifeline.url}/graphql`) graphqlRequests.push(request.postData() ?? '');
      });

      // The book now: the at-risk count is the length of the API's at-risk list.
      await openView(page, '#/book');
      const atRisk = await api<{ atRisk: { account: { id: string; name: string } }[] }>(managerToken, '{ atRisk(first: 100) { account { id name } } }');
      expect(Number(await page.locator('[data-metric="at-risk"]').getAttribute('data-value'))).toBe(atRisk.atRisk.length);
      expect(atRisk.atRisk.length).toBeGreaterThan(0);
      expect(await page.locator('[data-table="at-risk"] tbody tr').count()).toBe(atRisk.atRisk.length);
      expect(graphqlRequests).toHaveLength(1);
      await shoot(page, 'dashboard-book');

      // One account, from the at-risk list: its health history as a line, and the reasons at the point.
      const first = atRisk.atRisk[0];
      await page.locator('[data-table="at-risk"] tbody tr').first().getByRole('link').click();
      await page.waitForFunction(() => document.documentElement.dataset.state === 'ready' && document.documentElement.dataset.view === 'account');
      const shownName = await page.locator('#view h1').textContent();
      expect(atRisk.atRisk.map((item) => item.account.name)).toContain(shownName);
      const account = await api<{ account: { health: { history: { computedAt: string; reasons: string[] }[] } } }>(
        managerToken,
        'query ($id: ID!) { account(id: $id) { health { history(days: 90) { computedAt reasons } } } }',
        { id: atRisk.atRisk.find((item) => item.account.name === shownName)?.account.id ?? first?.account.id },
      );
      const history = account.account.health.history;
      expect(history.length).toBeGreaterThan(0);
      expect(await page.locator('[data-chart="health-history"] canvas').count()).toBeGreaterThan(0);
      expect(await page.locator('.history-list > ol > li').count()).toBe(history.length);
      const latestReasons = page.locator('.reasons-at .reasons li');
      expect(await latestReasons.allTextContents()).toEqual(history[0]?.reasons.length ? history[0].reasons : ['No reason recorded.']);
      await shoot(page, 'dashboard-account');

      await openView(page, '#/lifecycle');
      expect(await page.locator('[data-table="funnel"] tbody tr').count()).toBeGreaterThan(0);
      await shoot(page, 'dashboard-lifecycle');

      await openView(page, '#/renewals');
      // By forecast call: the expected GRR is that of renewalForecast(from, to) over the window the panel names.
      const forecastPanel = page.locator('[data-forecast]');
      const windowFrom = await forecastPanel.getAttribute('data-period-from');
      const windowTo = await forecastPanel.getAttribute('data-period-to');
      expect(windowFrom).toBe(new Date().toISOString().slice(0, 10));
      const forecast = await api<{ renewalForecast: { groups: { expectedGrr: number | null; byCall: { call: string | null }[] }[] } }>(
        managerToken,
        'query ($from: Date!, $to: Date!) { renewalForecast(from: $from, to: $to) { groups { expectedGrr byCall { call } } } }',
        { from: windowFrom, to: windowTo },
      );
      const [all] = forecast.renewalForecast.groups;
      expect(all?.expectedGrr).not.toBeNull();
      const shownGrr = forecastPanel.locator('[data-metric="expected-grr"]');
      expect(Number(await shownGrr.getAttribute('data-value'))).toBe(all?.expectedGrr);
      const grrText = await page.evaluate((value) => new Intl.NumberFormat(undefined, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(value), all?.expectedGrr ?? 0);
      expect(await shownGrr.locator('.figure-value').textContent()).toBe(grrText);
      expect(await page.locator('[data-table="renewals-by-call"] tbody tr').count()).toBe(all?.byCall.length);
      expect(await forecastPanel.locator('details.formula').count()).toBe(1);
      expect(await page.locator('[data-placeholder]').count()).toBe(0);
      await shoot(page, 'dashboard-renewals');

      await openView(page, '#/team');
      const team = await api<{ team: { csm: { name: string }; overdueTasks: number }[] }>(managerToken, '{ team { csm { name } overdueTasks } }');
      const rows = page.locator('[data-table="team"] tbody tr');
      expect(await rows.count()).toBe(team.team.length);
      // Sortable: a click on "Accounts" sorts by it, largest first, and says so.
      const header = page.locator('[data-table="team"] th', { hasText: 'Accounts' });
      await header.getByRole('button').click();
      expect(await header.getAttribute('aria-sort')).toBe('descending');
      const counts = (await page.locator('[data-table="team"] tbody tr td:nth-child(2)').allTextContents()).map((text) => Number(text.replace(/\D/g, '')));
      expect(counts).toEqual([...counts].sort((a, b) => b - a));
      await shoot(page, 'dashboard-team');
      // Renewals makes two: the forecast of the window is for managers and admins only.
      expect(graphqlRequests.length).toBe(6);

      // A phone: nothing wider than the screen but the tables, which scroll inside their panel.
      await page.setViewportSize({ width: 390, height: 844 });
      await openView(page, '#/retention');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shoot(page, 'dashboard-retention-phone');
      await openView(page, '#/book');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shoot(page, 'dashboard-book-phone');

      console.info(
        `dashboard: usable ${signInMs} ms after signing in, ${reloadMs} ms after a reload with the token kept (demo book, Retention view; requests: ${requestMs.join(', ')})`,
      );
      expect(elsewhere).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('tells a person whose token is not accepted what is wrong, and keeps nothing', async () => {
    const { context, page, problems } = await openSession();
    try {
      await page.goto(`${lifeline.url}/dashboard`);
      await page.getByLabel('API token').fill('llt_not-a-real-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('#sign-in-error').textContent()).toMatch(/That token was not accepted/);
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
      expect(await page.locator('#nav').isVisible()).toBe(false);
      expect(problems.filter((text) => /Content Security Policy|Refused to/i.test(text))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows a CSM their own book and, in place of retention, team and the renewal forecast, why they cannot see them', async () => {
    const { context, page, elsewhere, problems } = await openSession();
    try {
      await signIn(page, csmToken);
      expect(await page.locator('#who-role').textContent()).toBe('CSM');
      expect(await page.locator('#view h1').textContent()).toBe('My book now');
      const csms = await page.locator('[data-table="at-risk"] tbody tr td:last-child').allTextContents();
      expect(csms.every((name) => name === csmName)).toBe(true);
      expect(await page.locator('[data-table="tasks"], .panel h2:has-text("My open tasks")').count()).toBeGreaterThan(0);
      await shoot(page, 'dashboard-csm-book');

      await openView(page, '#/retention');
      const explanation = page.locator('[data-explanation="Retention"]');
      expect(await explanation.textContent()).toMatch(/Your role \(csm\) cannot read retention metrics .*managers and admins/);
      expect(await page.locator('canvas').count()).toBe(0);
      await shoot(page, 'dashboard-csm-retention');
      await openView(page, '#/team');
      expect(await page.locator('[data-explanation="Team"]').count()).toBe(1);

      await openView(page, '#/renewals');
      expect(await page.locator('#view h1').textContent()).toBe('My renewals');
      expect(await page.locator('[data-explanation="By forecast call"]').textContent()).toMatch(/Your role \(csm\) cannot read the renewal forecast .*managers and admins/);
      expect(await page.locator('[data-forecast]').count()).toBe(0);
      expect(elsewhere).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
