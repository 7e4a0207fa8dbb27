import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHIQL_CSP } from '../api/graphiql.ts';
import { parseConfig } from '../config.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import { useTestDatabase } from './support/database.ts';
import { createToken, createUser } from './support/factories.ts';
import { silentLogger } from './support/graphql.ts';

// GraphiQL as a newcomer meets it: offline (every request the page makes goes to Lifeline itself), under its
// Content-Security-Policy, opening on the example query with the demo token already in the headers, and running
// it without any edit. Driven in a real browser: Debian's chromium through playwright-core.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const database = useTestDatabase();
let lifeline: Lifeline;
let browser: Browser;
let token: string;

beforeAll(async () => {
  const admin = await createUser(database.db, { role: 'admin', name: 'Demo Admin' });
  token = await createToken(database.db, 'admin', admin);
  lifeline = await startLifeline({ config: parseConfig({ PORT: '0' }), database, logger: silentLogger, host: '127.0.0.1', printLocal: () => {}, demoToken: token });
  if (!existsSync(CHROMIUM)) throw new Error(`No browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await lifeline?.close();
});

describe('GraphiQL', () => {
  it('serves its page with a strict policy and its code from Lifeline, never from a CDN', async () => {
    const page = await fetch(`${lifeline.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(GRAPHIQL_CSP);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>(?!\s*<\/script>)/);
    for (const file of ['graphiql.js', 'graphiql.css', 'boot.js', 'start.js', 'worker-graphql.js', 'worker-json.js', 'worker-editorWorkerService.js']) {
      const response = await fetch(`${lifeline.url}/graphql/graphiql/${file}`);
      expect({ file, status: response.status }).toEqual({ file, status: 200 });
      expect(response.headers.get('content-type')).toMatch(file.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      await response.arrayBuffer();
    }
    expect((await fetch(`${lifeline.url}/graphql/graphiql/../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${lifeline.url}/graphql/graphiql/nothing.js`)).status).toBe(404);
  });

  it('in a real browser, opens on the example query with the token filled in and runs it as it is, offline', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const elsewhere: string[] = [];
    const problems: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      const local = url.origin === lifeline.url || url.protocol === 'data:' || url.protocol === 'blob:';
      if (local) return route.continue();
      elsewhere.push(url.href);
      return route.abort();
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    try {
      await page.goto(`${lifeline.url}/graphql`);
      // The editor opens on the example dashboard query, and the headers carry the demo token.
      await page.getByText('accounts(', { exact: false }).first().waitFor({ timeout: 30_000 });
      const headersTab = page.getByText('Headers', { exact: true }).first();
      await headersTab.click();
      await page.getByText(token.slice(0, 12), { exact: false }).first().waitFor({ timeout: 10_000 });
      // Run it as it is.
      const answer = page.waitForResponse((response) => response.url() === `${lifeline.url}/graphql` && response.request().method() === 'POST' && (response.request().postData() ?? '').includes('accounts'));
      await page.locator('.graphiql-execute-button').click();
      const response = await answer;
      expect(response.status()).toBe(200);
      const body: { data?: Record<string, unknown>; errors?: unknown[] } = await response.json();
      expect(body.errors).toBeUndefined();
      expect(body.data).toHaveProperty('accounts');
      const shots = process.env.LIFELINE_SCREENSHOTS;
      if (shots) await page.screenshot({ path: `${shots}/graphiql.png`, fullPage: true });
      expect(elsewhere).toEqual([]);
      expect(problems.filter((text) => /Content Security Policy|Refused to/i.test(text))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
