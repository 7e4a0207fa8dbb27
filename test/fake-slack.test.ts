import { App, LogLevel, type types } from '@slack/bolt';
import { ErrorCode, type Logger, WebClient } from '@slack/web-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from './support/fake-slack.ts';
import { appHomeOpenedEvent, buttonAction, createSlackClient, slashCommand, staticSelectAction, viewSubmissionPayload } from './support/slack-requests.ts';

const SIGNING_SECRET = 'test-signing-secret';

function section(text: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

// WebClient logs a platform error's response_metadata.messages at error level, so even LogLevel.ERROR prints them.
const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

function webClient(fake: FakeSlack, options: { token?: string; rejectRateLimitedCalls?: boolean } = {}): WebClient {
  return new WebClient('token' in options ? options.token : 'xoxb-test', {
    slackApiUrl: fake.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: options.rejectRateLimitedCalls ?? false,
    logger: silentLogger,
  });
}

describe('fake Slack Web API', () => {
  let fake: FakeSlack;

  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
  });

  it('records chat.postMessage with blocks parsed back from the form body', async () => {
    const client = webClient(fake);
    const blocks: types.KnownBlock[] = [section('*Acme* renewal in 30 days'), { type: 'divider' }];
    const first = await client.chat.postMessage({ channel: 'C0001', text: 'Acme renewal', blocks });
    const second = await client.chat.postMessage({ channel: 'C0001', text: 'again' });

    expect(first.ok).toBe(true);
    expect(first.channel).toBe('C0001');
    expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    expect(first.message?.blocks).toEqual(blocks);

    const [call] = fake.callsTo('chat.postMessage');
    expect(call).toMatchObject({
      method: 'chat.postMessage',
      token: 'xoxb-test',
      outcome: 'ok',
      warnings: [],
      body: { channel: 'C0001', text: 'Acme renewal', blocks },
    });
    expect(call?.body).not.toHaveProperty('token');
  });

  it('accepts blocks without a text fallback but records a warning', async () => {
    await webClient(fake).chat.postMessage({ channel: 'C0001', blocks: [section('hi')] });
    expect(fake.callsTo('chat.postMessage')[0]?.warnings).toEqual(['missing_text_fallback']);
  });

  it('rejects 51 blocks with invalid_blocks, as a platform error', async () => {
    const blocks = Array.from({ length: 51 }, (_, i) => section(`row ${i}`));
    await expect(webClient(fake).chat.postMessage({ channel: 'C0001', text: 'x', blocks })).rejects.toMatchObject({
      code: ErrorCode.PlatformError,
      data: { ok: false, error: 'invalid_blocks', errors: ['no more than 50 items allowed [json-pointer:/blocks]'] },
    });
    expect(fake.callsTo('chat.postMessage')[0]).toMatchObject({ outcome: 'error', error: 'invalid_blocks' });
  });

  it('rejects a 3001-character section with a json pointer to the text', async () => {
    const blocks: types.KnownBlock[] = [section('ok'), { type: 'divider' }, section('x'.repeat(3001))];
    await expect(webClient(fake).chat.postMessage({ channel: 'C0001', text: 'x', blocks })).rejects.toMatchObject({
      code: ErrorCode.PlatformError,
      data: { error: 'invalid_blocks', errors: ['must be less than 3001 characters [json-pointer:/blocks/2/text/text]'] },
    });
  });

  it('reports an invalid modal as invalid_arguments with the detail in response_metadata', async () => {
    const view = { type: 'modal' as const, title: { type: 'plain_text' as const, text: 'A title that is far too long' }, blocks: [] };
    await expect(webClient(fake).views.open({ trigger_id: '1.2.3', view })).rejects.toMatchObject({
      code: ErrorCode.PlatformError,
      data: {
        error: 'invalid_arguments',
        response_metadata: { messages: ['[ERROR] must be less than 25 characters [json-pointer:/view/title/text]'] },
      },
    });
  });

  it('opens and publishes views, answering with a view id', async () => {
    const client = webClient(fake);
    const opened = await client.views.open({
      trigger_id: '1.2.3',
      view: { type: 'modal', title: { type: 'plain_text', text: 'Log a touchpoint' }, blocks: [section('hi')] },
    });
    const published = await client.views.publish({ user_id: 'U1', view: { type: 'home', blocks: [section('home')] } });
    const republished = await client.views.publish({ user_id: 'U1', view: { type: 'home', blocks: [] } });
    expect(opened.view?.id).toMatch(/^V/);
    expect(published.view?.id).toBe(republished.view?.id);
    expect(fake.callsTo('views.publish')[0]?.body.view).toEqual({ type: 'home', blocks: [section('home')] });
  });

  it('surfaces an injected 500 as an HTTP error, then answers normally', async () => {
    const client = webClient(fake);
    fake.failNext('chat.postMessage', { status: 500 });
    await expect(client.chat.postMessage({ channel: 'C0001', text: 'x' })).rejects.toMatchObject({
      code: ErrorCode.HTTPError,
      statusCode: 500,
    });
    await expect(client.chat.postMessage({ channel: 'C0001', text: 'x' })).resolves.toMatchObject({ ok: true });
    expect(fake.callsTo('chat.postMessage').map((c) => c.outcome)).toEqual(['http_500', 'ok']);
  });

  it('surfaces an injected ok:false error as a platform error', async () => {
    fake.failNext('chat.postMessage', { error: 'channel_not_found' }, 2);
    const client = webClient(fake);
    for (let i = 0; i < 2; i += 1) {
      await expect(client.chat.postMessage({ channel: 'C404', text: 'x' })).rejects.toMatchObject({
        code: ErrorCode.PlatformError,
        data: { error: 'channel_not_found' },
      });
    }
    await expect(client.chat.postMessage({ channel: 'C404', text: 'x' })).resolves.toMatchObject({ ok: true });
  });

  it('answers an injected 429 with Retry-After, which rejectRateLimitedCalls turns into an error', async () => {
    fake.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 });
    const client = webClient(fake, { rejectRateLimitedCalls: true });
    await expect(client.chat.postMessage({ channel: 'C0001', text: 'x' })).rejects.toMatchObject({
      code: ErrorCode.RateLimitedError,
      retryAfter: 1,
    });
    expect(fake.callsTo('chat.postMessage')[0]?.outcome).toBe('rate_limited');
  });

  it('answers not_authed without a token and unknown_method for anything it does not implement', async () => {
    await expect(webClient(fake, { token: undefined }).chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toMatchObject({
      data: { error: 'not_authed' },
    });
    await expect(webClient(fake).apiCall('reactions.add', { name: 'tada' })).rejects.toMatchObject({
      data: { error: 'unknown_method' },
    });
  });

  it('refuses chat.update on an ephemeral message, which only its response_url can replace', async () => {
    const client = webClient(fake);
    const ephemeral = await client.chat.postEphemeral({ channel: 'C0001', user: 'U1', text: 'only you' });
    expect(ephemeral.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    await expect(
      client.chat.update({ channel: 'C0001', ts: ephemeral.message_ts ?? '', text: 'edited' }),
    ).rejects.toMatchObject({ data: { error: 'message_not_found' } });

    const posted = await client.chat.postMessage({ channel: 'C0001', text: 'v1' });
    await expect(client.chat.update({ channel: 'C0001', ts: posted.ts ?? '', text: 'v2' })).resolves.toMatchObject({
      ok: true,
      ts: posted.ts,
    });
  });

  it('opens DMs and looks users up deterministically', async () => {
    const client = webClient(fake);
    const dm = await client.conversations.open({ users: 'U123' });
    expect(dm.channel?.id).toBe('DU123');
    const a = await client.users.lookupByEmail({ email: 'Ada@Example.com' });
    const b = await client.users.lookupByEmail({ email: 'ada@example.com' });
    expect(a.user?.id).toMatch(/^U[0-9A-F]{10}$/);
    expect(a.user?.id).toBe(b.user?.id);
    const info = await client.users.info({ user: 'U123' });
    expect(info.user?.id).toBe('U123');
    const auth = await client.auth.test();
    expect(auth).toMatchObject({ user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T0001' });
  });

  it('records response_url posts as Slack answers them: text/plain ok, 400 on invalid blocks', async () => {
    const url = fake.responseUrl('cmd-1');
    const post = (body: unknown): Promise<Response> =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const good = await post({ text: 'done', replace_original: true, blocks: [section('done')] });
    expect(good.status).toBe(200);
    expect(await good.text()).toBe('ok');

    const bad = await post({ text: 'x', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('invalid_blocks');

    expect(fake.callsTo('response_url')).toMatchObject([
      { responseId: 'cmd-1', outcome: 'ok', token: undefined, body: { replace_original: true, blocks: [section('done')] } },
      { responseId: 'cmd-1', outcome: 'error', errors: ['must be less than 151 characters [json-pointer:/blocks/0/text/text]'] },
    ]);
  });

  it('waitForCalls resolves on a later call and explains a timeout', async () => {
    const waiting = fake.waitForCalls('chat.postMessage', 1, 1000);
    await webClient(fake).chat.postMessage({ channel: 'C0001', text: 'late' });
    await expect(waiting).resolves.toHaveLength(1);
    await expect(fake.waitForCalls('views.open', 1, 30)).rejects.toThrow(
      /expected 1 call\(s\) to views\.open within 30 ms, got 0\. Received:\n {2}chat\.postMessage → ok/,
    );
  });
});

describe('fake Slack per-channel rate limit', () => {
  it('answers 429 with Retry-After: 1 beyond perSecond posts to one channel', async () => {
    const fake = await startFakeSlack({ channelRateLimit: { perSecond: 1 } });
    try {
      const client = webClient(fake, { rejectRateLimitedCalls: true });
      await client.chat.postMessage({ channel: 'C0001', text: 'first' });
      // Another channel has its own budget.
      await client.chat.postMessage({ channel: 'C0002', text: 'other channel' });
      await expect(client.chat.postMessage({ channel: 'C0001', text: 'second' })).rejects.toMatchObject({
        code: ErrorCode.RateLimitedError,
        retryAfter: 1,
      });
      expect(fake.callsTo('chat.postMessage').map((c) => c.outcome)).toEqual(['ok', 'ok', 'rate_limited']);
      expect(fake.callsTo('chat.postMessage')[2]?.rateLimit).toBe('channel');
    } finally {
      await fake.close();
    }
  });
});

describe('fake Slack workspace-wide rate limit', () => {
  it('answers 429 with its Retry-After past perSecond posts across all channels, and accepts again a second later', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const fake = await startFakeSlack({ clock: () => now, workspaceRateLimit: { perSecond: 3, retryAfterSeconds: 2 } });
    try {
      const client = webClient(fake, { rejectRateLimitedCalls: true });
      for (const channel of ['C0001', 'C0002', 'C0003']) await client.chat.postMessage({ channel, text: 'within the limit' });
      await expect(client.chat.postMessage({ channel: 'C0004', text: 'one too many' })).rejects.toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 2 });
      // A refused post does not count: a second after the first three, the workspace takes posts again.
      now += 1000;
      await client.chat.postMessage({ channel: 'C0004', text: 'a second later' });
      const posts = fake.callsTo('chat.postMessage');
      expect(posts.map((c) => c.outcome)).toEqual(['ok', 'ok', 'ok', 'rate_limited', 'ok']);
      expect(posts[3]).toMatchObject({ rateLimit: 'workspace', retryAfterSeconds: 2 });
    } finally {
      await fake.close();
    }
  });
});

describe('fake Slack failure rules on a simulated clock', () => {
  it('fails calls by schedule and by channel, records its own time, and can lose the answer to a post that landed', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const fake = await startFakeSlack({ clock: () => now });
    try {
      fake.failWhen('*', ({ at }) => (at < Date.parse('2030-01-01T00:05:00Z') ? { status: 500 } : undefined));
      fake.failWhen('chat.postMessage', ({ body }) => (body.channel === 'CGONE' ? { error: 'channel_not_found' } : undefined));
      const client = webClient(fake, { rejectRateLimitedCalls: true });
      await expect(client.chat.postMessage({ channel: 'C0001', text: 'during' })).rejects.toMatchObject({ code: ErrorCode.HTTPError, statusCode: 500 });
      now += 5 * 60_000;
      await expect(client.chat.postMessage({ channel: 'C0001', text: 'after' })).resolves.toMatchObject({ ok: true });
      await expect(client.chat.postMessage({ channel: 'CGONE', text: 'gone' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
      expect(fake.callsTo('chat.postMessage').map((call) => [call.at - Date.parse('2030-01-01T00:00:00Z'), call.outcome])).toEqual([
        [0, 'http_500'],
        [300_000, 'ok'],
        [300_000, 'error'],
      ]);

      // A one-off failure still comes first; a processed 500 stores the post, which history then shows.
      fake.failNext('chat.postMessage', { status: 500, processed: true });
      await expect(client.chat.postMessage({ channel: 'C0002', text: 'landed anyway' })).rejects.toMatchObject({ statusCode: 500 });
      expect(fake.callsTo('chat.postMessage').at(-1)).toMatchObject({ outcome: 'http_500', processed: true });
      const history = await client.conversations.history({ channel: 'C0002' });
      expect(history.messages?.map((message) => message.text)).toEqual(['landed anyway']);

      fake.reset();
      now -= 5 * 60_000;
      await expect(client.chat.postMessage({ channel: 'C0001', text: 'rules cleared' })).resolves.toMatchObject({ ok: true });
    } finally {
      await fake.close();
    }
  });
});

describe('Bolt app against the fake and signed requests', () => {
  let fake: FakeSlack;
  let app: App;
  let client: ReturnType<typeof createSlackClient>;

  beforeAll(async () => {
    fake = await startFakeSlack();
    app = new App({
      signingSecret: SIGNING_SECRET,
      token: 'xoxb-test',
      // Both ids given, so Bolt skips its start-up auth.test call.
      botId: 'BBOT',
      botUserId: 'UBOT',
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
    });
    app.command('/lifeline', async ({ ack, command, respond, client: web }) => {
      await ack();
      await respond({ response_type: 'ephemeral', text: `looking up ${command.text}` });
      await web.chat.postMessage({ channel: command.channel_id, text: 'posted' });
    });
    app.action('stage', async ({ ack, action, respond }) => {
      await ack();
      if (action.type === 'static_select') await respond({ replace_original: true, text: action.selected_option.value });
    });
    app.action('open', async ({ ack, body, client: web }) => {
      await ack();
      if (body.type === 'block_actions') {
        await web.views.open({ trigger_id: body.trigger_id, view: { type: 'modal', title: { type: 'plain_text', text: 'Note' }, blocks: [] } });
      }
    });
    app.view('note', async ({ ack, view }) => {
      await ack({ response_action: 'errors', errors: { note: `bad ${view.private_metadata}` } });
    });
    app.event('app_home_opened', async ({ event, client: web }) => {
      await web.views.publish({ user_id: event.user, view: { type: 'home', blocks: [section('Home')] } });
    });
    const server = await app.start({ port: 0, host: '127.0.0.1' });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    client = createSlackClient({ url: `http://127.0.0.1:${address.port}/slack/events`, signingSecret: SIGNING_SECRET });
  });
  afterAll(async () => {
    await app.stop();
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
  });

  it('routes a slash command; respond() and the client both land on the fake', async () => {
    const res = await client.command(slashCommand({ text: 'acme', user_id: 'U1', response_url: fake.responseUrl('cmd') }));
    expect(res.status).toBe(200);
    const [responded] = await fake.waitForCalls('response_url', 1);
    expect(responded).toMatchObject({ responseId: 'cmd', body: { text: 'looking up acme', response_type: 'ephemeral' } });
    await fake.waitForCalls('chat.postMessage', 1);
    expect(fake.callsTo('auth.test')).toEqual([]);
  });

  it('routes block actions and view submissions', async () => {
    const container = { type: 'message' as const, channelId: 'C0001', messageTs: '1700000000.000100', isEphemeral: false };
    await client.blockAction(
      staticSelectAction({ userId: 'U1', actionId: 'stage', blockId: 'acct', selectedValue: 'churn-risk', responseUrl: fake.responseUrl('sel'), container }),
    );
    const [replaced] = await fake.waitForCalls('response_url', 1);
    expect(replaced).toMatchObject({ responseId: 'sel', body: { replace_original: true, text: 'churn-risk' } });

    await client.blockAction(buttonAction({ userId: 'U1', actionId: 'open', blockId: 'b', value: 'x', responseUrl: fake.responseUrl(), container }));
    const [opened] = await fake.waitForCalls('views.open', 1);
    expect(opened?.outcome).toBe('ok');

    const res = await client.viewSubmission(viewSubmissionPayload({ userId: 'U1', callbackId: 'note', privateMetadata: 'acct-7', values: {} }));
    expect(res.json()).toEqual({ response_action: 'errors', errors: { note: 'bad acct-7' } });
  });

  it('routes events and rejects forged or stale requests with 401', async () => {
    const res = await client.event(appHomeOpenedEvent({ userId: 'U9' }));
    expect(res.status).toBe(200);
    const [published] = await fake.waitForCalls('views.publish', 1);
    expect(published?.body.user_id).toBe('U9');

    const payload = slashCommand({ text: 'x', user_id: 'U1', response_url: fake.responseUrl() });
    expect((await client.command(payload, { signature: 'v0=forged' })).status).toBe(401);
    expect((await client.command(payload, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })).status).toBe(401);
  });
});
