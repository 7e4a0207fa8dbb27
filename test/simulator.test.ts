import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { sql } from 'drizzle-orm';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATOR_CSP } from '../bot/local-slack.ts';
import { SimulatorInputError, clickedAction, messageActionPayload, viewActionPayload, viewSubmissionPayload } from '../bot/local-slack-payloads.ts';
import type { LocalView } from '../bot/local-slack-workspace.ts';
import { parseConfig } from '../config.ts';
import { queryRows } from '../db/client.ts';
import { seedDemoBook } from '../demo/book.ts';
import { actorFromUser } from '../domain/actors.ts';
import { listDigestItems } from '../domain/digest.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import { useTestDatabase } from './support/database.ts';
import { silentLogger } from './support/graphql.ts';
import { signSlackRequest } from './support/slack-requests.ts';

// The local Slack simulator as a newcomer meets it: Lifeline on its own (no Slack token) on the demo book, the page
// it serves, and what people do there reaching Lifeline through the same signed receiver as Slack's requests.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

const database = useTestDatabase();
let lifeline: Lifeline;

type Person = { id: string; slackId: string; name: string };

beforeAll(async () => {
  await seedDemoBook(database.db, new Date());
  lifeline = await startLifeline({ config: parseConfig({ PORT: '0' }), database, logger: silentLogger, host: '127.0.0.1', printLocal: () => {} });
});
afterAll(async () => {
  await lifeline?.close();
});

function act(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return fetch(`${lifeline.url}/local-slack/act`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function personWithRole(role: string): Promise<Person> {
  const [row] = await queryRows<Person>(database.db, sql`select id, slack_user_id as "slackId", name from users where role = ${role} order by name limit 1`);
  if (!row) throw new Error(`the demo book has no ${role}`);
  return row;
}

function visibleTexts(): string {
  return lifeline.localSlack?.workspace
    .conversations()
    .flatMap((conversation) => conversation.messages.map((message) => `${message.text}\n${JSON.stringify(message.blocks)}`))
    .join('\n') ?? '';
}

describe('the simulator reaches Lifeline only through the signed receiver', () => {
  it("sends a typed command as Slack's signed form post, which the real receiver accepts and answers", async () => {
    const csm = await personWithRole('csm');
    const response = await act({ type: 'command', user: csm.slackId, channel: 'CLOCALTEAM', text: '/lifeline help' });
    expect(response.status).toBe(200);
    // Lifeline acks at once and answers through the command's response_url.
    const answer = () => lifeline.localSlack?.workspace.conversations().find((conversation) => conversation.id === 'CLOCALTEAM')?.messages.at(-1);
    await expect.poll(answer).toMatchObject({ ephemeralTo: csm.slackId, text: expect.stringContaining('keeps your book of accounts moving') });
  });

  it('a forged or unsigned request to /slack/events is refused and changes nothing', async () => {
    const csm = await personWithRole('csm');
    const before = visibleTexts();
    const body = new URLSearchParams({ command: '/lifeline', text: 'help', user_id: csm.slackId, channel_id: 'CLOCALTEAM', response_url: `${lifeline.url}/local-slack/response/x`, trigger_id: '1.2.3' }).toString();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const unsigned = await fetch(`${lifeline.url}/slack/events`, { method: 'POST', headers: form, body });
    expect(unsigned.status).toBe(401);
    const forged = await fetch(`${lifeline.url}/slack/events`, { method: 'POST', headers: { ...form, ...signSlackRequest('not-the-secret', body) }, body });
    expect(forged.status).toBe(401);
    expect(visibleTexts()).toBe(before);
  });

  it('acts only for its own page: another origin, a rebound DNS name, or a person nobody linked, is refused', async () => {
    const csm = await personWithRole('csm');
    const foreign = await act({ type: 'command', user: csm.slackId, channel: 'CLOCALTEAM', text: '/lifeline help' }, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    // A DNS name rebound to 127.0.0.1 reaches the port but not the page, its state or its actions.
    const rebound = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${lifeline.url}/local-slack/state`);
      request({ host: url.hostname, port: url.port, path: url.pathname, headers: { host: `rebound.example:${url.port}` } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(rebound).toBe(403);
    const nobody = await act({ type: 'command', user: 'UNOBODY', channel: 'CLOCALTEAM', text: '/lifeline help' });
    expect(nobody.status).toBe(409);
    expect(await nobody.json()).toEqual({ error: expect.stringMatching(/Nobody with the Slack id UNOBODY/) });
  });
});

describe("the simulator's payloads have each surface's shape", () => {
  const person = { id: 'U0DEMOCSM1', name: 'Sam Okafor', role: 'csm', email: 'sam@lifeline.example' };
  const select = { type: 'static_select', action_id: 'pick', options: [{ text: { type: 'plain_text', text: 'Onboarding' }, value: 'onboarding' }] };
  const blocks = [{ type: 'actions', block_id: 'card', elements: [select, { type: 'button', action_id: 'go', text: { type: 'plain_text', text: 'Go' }, value: 'v' }] }];
  const message = { ts: '1796640615.000001', channel: 'CLOCALTEAM', text: 'Card', blocks, postedAt: '' };
  const view: LocalView = {
    id: 'VLOCAL000001', type: 'modal', user: person.id, title: { type: 'plain_text', text: 'Move stage' }, submit: null, close: null, callback_id: 'stage_move',
    private_metadata: '{"a":1}', external_id: '', hash: '1.abc', previous_view_id: null, root_view_id: 'VLOCAL000001',
    blocks: [
      { type: 'input', block_id: 'reason', element: { type: 'plain_text_input', action_id: 'value' } },
      { type: 'input', block_id: 'stage', element: { ...select, action_id: 'value' } },
      { type: 'input', block_id: 'until', optional: true, element: { type: 'datepicker', action_id: 'value' } },
      { type: 'input', block_id: 'owner', element: { type: 'users_select', action_id: 'value' } },
    ],
  };

  it('a click in a posted message carries the message and a response_url; one in an ephemeral message, no message', () => {
    const action = clickedAction(select, 'card', 'onboarding');
    expect(action).toMatchObject({ type: 'static_select', action_id: 'pick', block_id: 'card', selected_option: { text: { type: 'plain_text', text: 'Onboarding' }, value: 'onboarding' } });
    const common = { person, channelName: 'customer-success', action, responseUrl: 'http://127.0.0.1/r/1', triggerId: '1.2.3' };
    const posted = messageActionPayload({ ...common, message });
    expect(posted).toMatchObject({ type: 'block_actions', container: { type: 'message', is_ephemeral: false }, message: { ts: message.ts, blocks }, response_url: 'http://127.0.0.1/r/1' });
    const ephemeral = messageActionPayload({ ...common, message: { ...message, ephemeralTo: person.id } });
    expect(ephemeral).toMatchObject({ container: { type: 'message', message_ts: message.ts, channel_id: 'CLOCALTEAM', is_ephemeral: true }, response_url: 'http://127.0.0.1/r/1' });
    expect(ephemeral).not.toHaveProperty('message');
    expect(() => clickedAction(select, 'card', 'nowhere')).toThrow(SimulatorInputError);
  });

  it('a click in a view carries the view with its inputs, and no response_url, channel or message; a submission types every input', () => {
    const raw = { reason: { value: 'Champion left' }, stage: { value: 'onboarding' }, owner: { value: 'U0DEMOCSM2' } };
    const click = viewActionPayload({ person, view, raw, action: clickedAction({ type: 'button', action_id: 'go', text: { type: 'plain_text', text: 'Go' } }, 'stage', null), triggerId: '1.2.3' });
    expect(click).toMatchObject({ container: { type: 'view', view_id: view.id }, view: { id: view.id, type: 'modal', callback_id: 'stage_move', private_metadata: '{"a":1}' } });
    for (const absent of ['response_url', 'channel', 'message']) expect(click).not.toHaveProperty(absent);
    const submission = viewSubmissionPayload({ person, view, raw, triggerId: '1.2.4' });
    expect(submission).toMatchObject({ type: 'view_submission', user: { id: person.id }, view: { callback_id: 'stage_move' } });
    expect(Reflect.get(Reflect.get(submission.view as object, 'state'), 'values')).toEqual({
      reason: { value: { type: 'plain_text_input', value: 'Champion left' } },
      stage: { value: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: 'Onboarding' }, value: 'onboarding' } } },
      until: { value: { type: 'datepicker', selected_date: null } },
      owner: { value: { type: 'users_select', selected_user: 'U0DEMOCSM2' } },
    });
  });
});

describe.skipIf(!hasChromium)(`in a real browser (chromium at ${CHROMIUM})`, () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const elsewhere: string[] = [];
  const shots = process.env.LIFELINE_SCREENSHOTS;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const context = await browser.newContext();
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === lifeline.url || url.protocol === 'data:') return route.continue();
      elsewhere.push(url.href);
      return route.abort();
    });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function becomes(person: Person): Promise<void> {
    await page.locator('#person').selectOption(person.slackId);
    await page.getByRole('button', { name: '# customer-success' }).click();
  }

  async function type(command: string): Promise<void> {
    await page.locator('#command').fill(command);
    await page.locator('#command').press('Enter');
  }

  it('serves the page under a strict policy, offline', async () => {
    const response = await page.goto(`${lifeline.url}/local-slack`);
    expect(response?.headers()['content-security-policy']).toBe(SIMULATOR_CSP);
    await page.locator('#person option').first().waitFor({ state: 'attached' });
    expect(elsewhere).toEqual([]);
  });

  it('opens an account card with /lifeline and moves its stage backward with a reason through the modal', async () => {
    const [account] = await queryRows<{ id: string; name: string; csm: string }>(
      database.db,
      sql`select a.id, a.name, a.csm_id as csm from accounts a where a.stage_key = 'implementation' order by a.name limit 1`,
    );
    if (!account) throw new Error('the demo book has no account in implementation');
    const [csm] = await queryRows<Person>(database.db, sql`select id, slack_user_id as "slackId", name from users where id = ${account.csm}`);
    if (!csm) throw new Error('the account has no CSM');
    await becomes(csm);
    await type(`/lifeline account ${account.name}`);

    const card = page.locator('article.message', { has: page.locator('.header', { hasText: account.name }) });
    await expect.poll(() => card.count()).toBe(1);
    await expect.poll(() => card.innerText()).toMatch(/Only visible to you/);
    // Mentions show as the person's name, not a Slack id.
    expect(await card.innerText()).toContain(`@${csm.name}`);
    if (shots) await page.screenshot({ path: `${shots}/simulator-card.png`, fullPage: true });

    await card.locator('select').first().selectOption({ label: 'Onboarding' });
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.innerText()).toMatch(/Say why/);
    // Slack refuses a required input left empty before Lifeline hears of it.
    await dialog.getByRole('button', { name: 'Move to Onboarding' }).click();
    await dialog.getByText('Please complete this required field.').waitFor();
    await dialog.getByLabel('Reason').fill('Their new team needs onboarding again');
    if (shots) await page.screenshot({ path: `${shots}/simulator-stage-modal.png`, fullPage: true });
    await dialog.getByRole('button', { name: 'Move to Onboarding' }).click();
    await dialog.waitFor({ state: 'detached' });

    // The same card, redrawn in place: one entry, edited, showing the move and its reason.
    // mrkdwn as Slack draws it: the date token in words and the reader's time, bold field names.
    await expect.poll(() => card.innerText()).toMatch(/moved it backward today at \d{1,2}:\d{2} [AP]M/);
    expect(await card.locator('.fields b', { hasText: 'Stage' }).count()).toBe(1);
    expect(await card.innerText()).toContain('“Their new team needs onboarding again”');
    expect(await card.innerText()).toMatch(/\(edited\)/);
    expect(await card.count()).toBe(1);
    if (shots) await page.screenshot({ path: `${shots}/simulator-card-moved.png`, fullPage: true });

    const [moved] = await queryRows<{ stage: string; reason: string | null }>(
      database.db,
      sql`select a.stage_key as stage, t.reason from accounts a join stage_transitions t on t.account_id = a.id and t.account_version = a.version where a.id = ${account.id}`,
    );
    expect(moved).toEqual({ stage: 'onboarding', reason: 'Their new team needs onboarding again' });
  });

  it("acknowledges an account in the person's at-risk digest", async () => {
    const csms = await queryRows<Person & { role: 'csm' }>(database.db, sql`select id, slack_user_id as "slackId", name, role from users where role = 'csm' order by name`);
    let chosen: { person: Person; account: string } | undefined;
    for (const csm of csms) {
      const items = await listDigestItems(database.db, { csmId: csm.id, now: new Date(), reader: actorFromUser(csm) });
      const open = items.find((item) => !item.followUp?.acknowledgedAt);
      if (open) {
        chosen = { person: csm, account: open.account.name };
        break;
      }
    }
    if (!chosen) throw new Error('no CSM of the demo book has an at-risk account to acknowledge');
    await becomes(chosen.person);
    await type('/lifeline at-risk');
    const digest = page.locator('article.message', { hasText: 'Acknowledge what you are handling' }).last();
    await digest.waitFor();
    await digest.getByRole('button', { name: 'Acknowledge' }).first().click();
    await expect.poll(() => page.locator('#messages').innerText()).toContain(`Acknowledged by ${chosen.person.name}`);
    if (shots) await page.screenshot({ path: `${shots}/simulator-digest.png`, fullPage: true });
    const acknowledged = await queryRows<{ name: string }>(
      database.db,
      sql`select a.name from at_risk_follow_ups f join accounts a on a.id = f.account_id where f.acknowledged_by = ${chosen.person.id} and f.acknowledged_at is not null`,
    );
    expect(acknowledged.length).toBe(1);
  });

  it("opens an account from the person's Home tab in a modal, and moves it there through a form pushed on top", async () => {
    const [person] = await queryRows<Person>(
      database.db,
      sql`select u.id, u.slack_user_id as "slackId", u.name from accounts a join users u on u.id = a.csm_id join account_health h on h.account_id = a.id
          join lifecycle_stages s on s.key = a.stage_key
          where h.status in ('at_risk', 'critical') and not s.terminal and s.position > (select min(position) from lifecycle_stages) group by u.id order by u.name limit 1`,
    );
    if (!person) throw new Error('no CSM of the demo book has an account at risk');
    await page.locator('#person').selectOption(person.slackId);
    await page.getByRole('button', { name: 'Lifeline · Home' }).click();
    await page.locator('.home .header', { hasText: `${person.name}'s book` }).waitFor();
    const attention = page.locator('.home .section', { hasText: /·/ }).filter({ has: page.getByRole('button', { name: 'Open' }) }).first();
    const accountName = (await attention.locator('b').first().innerText()).trim();
    if (shots) await page.screenshot({ path: `${shots}/simulator-home.png`, fullPage: true });
    await attention.getByRole('button', { name: 'Open' }).click();

    const dialog = page.getByRole('dialog');
    await dialog.locator('.header', { hasText: accountName }).waitFor();
    const [account] = await queryRows<{ id: string; back: string }>(
      database.db,
      sql`select a.id, prev.name as back from accounts a join lifecycle_stages s on s.key = a.stage_key
          join lifecycle_stages prev on prev.position = (select max(position) from lifecycle_stages where position < s.position)
          where a.name = ${accountName}`,
    );
    if (!account) throw new Error(`no stage before ${accountName}'s`);
    await dialog.locator('select').first().selectOption({ label: account.back });
    // The reason form goes on top of the card; submitted, it closes and the card below is redrawn.
    await dialog.getByLabel('Reason').fill('Renewal at risk: back to the previous stage with a plan');
    await dialog.getByRole('button', { name: `Move to ${account.back}`.slice(0, 24) }).click();
    await expect.poll(() => dialog.innerText()).toContain('“Renewal at risk: back to the previous stage with a plan”');
    expect(await dialog.locator('.header').first().innerText()).toBe(accountName);
    if (shots) await page.screenshot({ path: `${shots}/simulator-home-modal.png`, fullPage: true });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
    const [moved] = await queryRows<{ reason: string | null }>(
      database.db,
      sql`select t.reason from accounts a join stage_transitions t on t.account_id = a.id and t.account_version = a.version where a.id = ${account.id}`,
    );
    expect(moved?.reason).toBe('Renewal at risk: back to the previous stage with a plan');
  });

  it('completes a task from /lifeline tasks with an outcome note', async () => {
    const [owner] = await queryRows<Person>(
      database.db,
      sql`select u.id, u.slack_user_id as "slackId", u.name from tasks t join users u on u.id = t.owner_id
          where t.status = 'open' and (t.snoozed_until is null or t.snoozed_until <= now()) group by u.id order by count(*) desc, u.name limit 1`,
    );
    if (!owner) throw new Error('the demo book has no open task');
    await becomes(owner);
    await type('/lifeline tasks');
    const list = page.locator('article.message', { has: page.locator('.header', { hasText: 'Your open tasks' }) }).last();
    await list.waitFor();
    await list.getByLabel('More actions').first().selectOption({ label: 'Mark done…' });
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByLabel('Outcome (optional)').fill('Walked the champion through the new dashboard');
    await dialog.getByRole('button', { name: 'Mark done' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => page.locator('#messages').innerText()).toMatch(/Marked “.+” done/);
    if (shots) await page.screenshot({ path: `${shots}/simulator-task-done.png`, fullPage: true });
    const [done] = await queryRows<{ status: string; owner: string }>(
      database.db,
      sql`select status::text, owner_id as owner from tasks where outcome_note = 'Walked the champion through the new dashboard'`,
    );
    expect(done).toEqual({ status: 'done', owner: owner.id });
    expect(problems.filter((text) => /Content Security Policy|Refused to/i.test(text))).toEqual([]);
    expect(elsewhere).toEqual([]);
  });
});
