import { describe, expect, it } from 'vitest';
import { ActionIds } from '../bot/ids.ts';
import { encodeDigestValue } from '../bot/views/digest.ts';
import type { User } from '../db/schema.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import type { FakeSlack, RecordedCall } from './support/fake-slack.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { setHealth } from './support/health.ts';
import { useSlackHarness } from './support/slack-harness.ts';
import { type SlackRequestClient, buttonAction, slashCommand } from './support/slack-requests.ts';

// What the bot shows and opens follows the same rules as the API: an account executive reads only the accounts
// they sold, and a form opens only for someone who may save it.

let database: TestDatabase;
let fake: FakeSlack;
let slack: SlackRequestClient;
let ae: User;
let otherAe: User;
let csm: User;
let viewer: User;
let request = 0;

useSlackHarness({}, async (harness) => {
  ({ database, fake, slack } = harness);
  ae = await createUser(database.db, { role: 'ae', name: 'Tom Becker', slackUserId: 'UACCESSAE1' });
  otherAe = await createUser(database.db, { role: 'ae', name: 'Ana Silva', slackUserId: 'UACCESSAE2' });
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor', slackUserId: 'UACCESSCSM' });
  viewer = await createUser(database.db, { role: 'viewer', name: 'Vic Reader', slackUserId: 'UACCESSVW1' });
});

function click(user: User, actionId: string, value: string) {
  request += 1;
  const id = `access-${request}`;
  const sent = slack.blockAction(
    buttonAction({
      userId: user.slackUserId ?? '',
      actionId,
      blockId: 'access',
      value,
      responseUrl: fake.responseUrl(id),
      container: { type: 'message', channelId: `CACCESS${request}`, messageTs: '1700000000.000100', isEphemeral: true },
      triggerId: id,
    }),
  );
  return { id, channel: `CACCESS${request}`, sent };
}

async function answerTo(id: string): Promise<RecordedCall> {
  await fake.waitForCalls('response_url', 1);
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const found = fake.calls.find((call) => call.responseId === id);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no answer to ${id}`);
}

describe('an account executive in Slack', () => {
  it('cannot open, share or find the card of an account they did not sell, and can for their own', async () => {
    const own = await createAccount(database.db, { name: 'Harbor Own Co', aeId: ae.id });
    const theirs = await createAccount(database.db, { name: 'Harbor Theirs Co', aeId: otherAe.id });

    for (const actionId of [ActionIds.openAccount, ActionIds.shareCard, ActionIds.digestOpenAccount]) {
      fake.reset();
      const value = actionId === ActionIds.digestOpenAccount ? encodeDigestValue({ accountId: theirs.id, csmId: null, page: 0 }) : theirs.id;
      const attempt = click(ae, actionId, value);
      expect((await attempt.sent).status).toBe(200);
      const refusal = await answerTo(attempt.id);
      expect(refusal.body).toMatchObject({ response_type: 'ephemeral', replace_original: false, text: expect.stringMatching(/^Account executives see only the accounts they sold/) });
      expect(JSON.stringify(fake.calls)).not.toContain(theirs.id);
      expect(fake.callsTo('chat.postMessage')).toEqual([]);
    }

    fake.reset();
    const searched = fake.responseUrl('search-theirs');
    await slack.command(slashCommand({ text: 'account Harbor Theirs Co', user_id: ae.slackUserId ?? '', response_url: searched }));
    const [notFound] = await fake.waitForCalls('response_url', 1);
    expect(String(notFound?.body.text)).toMatch(/^No account matches/);
    expect(JSON.stringify(notFound?.body)).not.toContain(theirs.id);

    fake.reset();
    const mine = click(ae, ActionIds.openAccount, own.id);
    const card = await answerTo(mine.id);
    expect(JSON.stringify(card.body.blocks)).toContain(own.id);
  });

  it("sees on a digest page only the at-risk accounts they sold, while a CSM's page lists all of them", async () => {
    const own = await createAccount(database.db, { name: 'Quarry Own Co', aeId: ae.id, csmId: csm.id });
    const theirs = await createAccount(database.db, { name: 'Quarry Theirs Co', aeId: otherAe.id, csmId: csm.id });
    for (const account of [own, theirs]) {
      await setHealth(database.db, account.id, { score: 40, status: 'at_risk', scoreDayAgo: 60, reasons: ['Fewer logins'] });
    }
    const page = encodeDigestValue({ accountId: '', csmId: null, page: 0 });

    const asAe = click(ae, ActionIds.digestShowMore, page);
    const aePage = JSON.stringify((await answerTo(asAe.id)).body);
    expect(aePage).toContain(own.id);
    expect(aePage).not.toContain(theirs.id);

    const asCsm = click(csm, ActionIds.digestShowMore, page);
    const csmPage = JSON.stringify((await answerTo(asCsm.id)).body);
    expect(csmPage).toContain(own.id);
    expect(csmPage).toContain(theirs.id);
  });
});

describe('forms open only for someone who may save them', () => {
  it("the digest's Move stage is refused before the form opens for a viewer, another CSM or an AE past Pre-onboarding", async () => {
    const account = await createAccount(database.db, { name: 'Juniper Labs', csmId: csm.id, aeId: ae.id, stageKey: 'implementation' });
    const value = encodeDigestValue({ accountId: account.id, csmId: null, page: 0 });
    const anotherCsm = await createUser(database.db, { role: 'csm', name: 'Lena Fischer', slackUserId: 'UACCESSCSM2' });
    for (const who of [viewer, anotherCsm, ae]) {
      fake.reset();
      const attempt = click(who, ActionIds.digestMoveStage, value);
      const refusal = await answerTo(attempt.id);
      expect(refusal.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
      expect(fake.callsTo('views.open')).toEqual([]);
    }
    fake.reset();
    click(csm, ActionIds.digestMoveStage, value);
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(JSON.stringify(opened?.body.view)).toContain('Juniper Labs');
  });

  it("a handoff's Edit context is refused before the form opens for anyone but its AE or a manager", async () => {
    const { handoff } = await recordClosedWon(database.db, {
      opportunityId: 'access-edit-1',
      account: { externalId: 'access-edit-1', name: 'Kestrel Foods', segment: 'smb', arrCents: 100_000 },
      aeId: ae.id,
      csmId: csm.id,
      closedWonAt: new Date(),
      context: { goals: 'Confidential expansion plans' },
      actor: { userId: null, role: 'integration', label: 'CRM' },
    });
    if (!handoff) throw new Error('A new account was recorded as an existing customer: no handoff');
    for (const who of [viewer, csm, otherAe]) {
      fake.reset();
      const attempt = click(who, ActionIds.handoffEdit, handoff.id);
      const refusal = await answerTo(attempt.id);
      expect(String(refusal.body.text)).toBe('Only the account executive on this handoff (Tom Becker) can confirm its context, or a manager.');
      expect(fake.callsTo('views.open')).toEqual([]);
    }
    fake.reset();
    click(ae, ActionIds.handoffEdit, handoff.id);
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(JSON.stringify(opened?.body.view)).toContain('Confidential expansion plans');
  });
});

describe('an integration token', () => {
  it('cannot read the lifecycle stages: it is for ingestion only', async () => {
    const api = createGraphqlClient(database.db);
    const refused = await api.request('{ stages { key } }', {}, await createToken(database.db, 'integration'));
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const read = await api.request('{ stages { key } }', {}, await createToken(database.db, 'viewer', viewer));
    expect(read.body.errors).toBeUndefined();
  });
});
