import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { verifySlackRequest } from '@slack/bolt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SlackSignatureHeaders, appHomeOpenedEvent, buttonAction, createSlackClient, signSlackRequest, slashCommand, staticSelectAction } from './support/slack-requests.ts';

const SIGNING_SECRET = 'test-signing-secret';

/** Bolt's own check of a request signed for SIGNING_SECRET: throws, as Bolt does, when it would refuse it. */
function verifyWithBolt(body: string, headers: IncomingHttpHeaders | SlackSignatureHeaders): void {
  verifySlackRequest({
    signingSecret: SIGNING_SECRET,
    body,
    headers: {
      'x-slack-signature': String(headers['x-slack-signature']),
      'x-slack-request-timestamp': Number(headers['x-slack-request-timestamp']),
    },
  });
}

describe('Slack request signing', () => {
  const body = 'token=x&command=%2Flifeline&text=acme';

  it('produces signatures that Bolt verifies', () => {
    const headers = signSlackRequest(SIGNING_SECRET, body);
    expect(headers['x-slack-signature']).toMatch(/^v0=[0-9a-f]{64}$/);
    expect(() => verifyWithBolt(body, headers)).not.toThrow();
  });

  it('fails Bolt verification with the wrong secret', () => {
    const headers = signSlackRequest('another-secret', body);
    expect(() => verifyWithBolt(body, headers)).toThrow(/signature mismatch/);
  });

  it('fails Bolt verification when the timestamp is 6 minutes old, even if correctly signed', () => {
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    const headers = signSlackRequest(SIGNING_SECRET, body, stale);
    expect(headers['x-slack-request-timestamp']).toBe(String(stale));
    expect(() => verifyWithBolt(body, headers)).toThrow(/stale/);
  });
});

describe('createSlackClient', () => {
  let server: Server;
  let url: string;
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"received":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    url = `http://127.0.0.1:${address.port}/slack/events`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    received.length = 0;
  });

  const verified = (entry: { headers: IncomingHttpHeaders; body: string } | undefined): boolean => {
    if (!entry) return false;
    try {
      verifyWithBolt(entry.body, entry.headers);
      return true;
    } catch {
      return false;
    }
  };

  it('sends slash commands as plain form fields with the exact content type, signed', async () => {
    const client = createSlackClient({ url, signingSecret: SIGNING_SECRET });
    const res = await client.command(slashCommand({ text: 'health acme corp', user_id: 'U1', response_url: 'http://x/r' }));
    expect(res.json()).toEqual({ received: true });
    const entry = received[0];
    expect(entry?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(verified(entry)).toBe(true);
    const form = new URLSearchParams(entry?.body);
    expect(Object.fromEntries(form)).toMatchObject({
      command: '/lifeline',
      text: 'health acme corp',
      user_id: 'U1',
      team_id: 'T0001',
      channel_id: 'C0001',
      api_app_id: 'A0001',
      is_enterprise_install: 'false',
      response_url: 'http://x/r',
    });
    expect(form.get('trigger_id')).toMatch(/^\d+\.\d+\.[0-9a-f]+$/);
  });

  it('sends interactivity as a single payload field and events as JSON', async () => {
    const client = createSlackClient({ url, signingSecret: SIGNING_SECRET });
    const action = staticSelectAction({
      userId: 'U1',
      actionId: 'stage',
      blockId: 'acct',
      selectedValue: 'renewal',
      responseUrl: 'http://x/r',
      container: { type: 'message', channelId: 'C0001', messageTs: '1700000000.000100', isEphemeral: true },
    });
    await client.blockAction(action);
    await client.event(appHomeOpenedEvent({ userId: 'U1' }));

    const [form, event] = received;
    expect(form?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const fields = [...new URLSearchParams(form?.body).keys()];
    expect(fields).toEqual(['payload']);
    const payload: unknown = JSON.parse(new URLSearchParams(form?.body).get('payload') ?? '');
    expect(payload).toMatchObject({
      type: 'block_actions',
      container: { type: 'message', message_ts: '1700000000.000100', channel_id: 'C0001', is_ephemeral: true },
      actions: [{ type: 'static_select', action_id: 'stage', block_id: 'acct', selected_option: { value: 'renewal' } }],
    });
    expect(payload).not.toHaveProperty('message');

    expect(event?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(event?.body ?? '')).toMatchObject({
      type: 'event_callback',
      event: { type: 'app_home_opened', user: 'U1', tab: 'home' },
    });
    expect(verified(event)).toBe(true);
  });

  it('can forge, age or drop the signature', async () => {
    const client = createSlackClient({ url, signingSecret: SIGNING_SECRET });
    await client.send('a=1', 'application/x-www-form-urlencoded', { signature: 'v0=deadbeef' });
    await client.send('a=1', 'application/x-www-form-urlencoded', { omitHeaders: true, headers: { 'x-slack-retry-num': '1' } });
    const [forged, bare] = received;
    expect(forged?.headers['x-slack-signature']).toBe('v0=deadbeef');
    expect(verified(forged)).toBe(false);
    expect(bare?.headers['x-slack-signature']).toBeUndefined();
    expect(bare?.headers['x-slack-retry-num']).toBe('1');
  });

  it('refuses a message on an ephemeral container, as Slack never sends one', () => {
    expect(() =>
      buttonAction({
        userId: 'U1',
        actionId: 'a',
        blockId: 'b',
        value: 'v',
        responseUrl: 'http://x/r',
        container: { type: 'message', channelId: 'C0001', messageTs: '1.1', isEphemeral: true },
        message: { blocks: [], text: '', ts: '1.1' },
      }),
    ).toThrow(/ephemeral/);
  });
});
