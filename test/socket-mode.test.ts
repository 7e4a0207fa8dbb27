import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { parseConfig } from '../config.ts';
import { ActionIds } from '../bot/ids.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { type FakeSlack, startFakeSlack } from './support/fake-slack.ts';
import { silentLogger } from './support/graphql.ts';
import { appHomeOpenedEvent, clickedButton, homeBlockAction, slashCommand } from './support/slack-requests.ts';

/**
 * A local stand-in for Slack's Socket Mode endpoint: apps.connections.open (through the fake Web API) hands out a
 * ws:// URL on loopback, where this server says hello and then sends envelopes shaped as Slack sends them
 * (`{ envelope_id, type, payload, accepts_response_payload }`), collecting the acks the app sends back.
 */
interface SocketModeSlack {
  url: string;
  connected: Promise<WebSocket>;
  acks: Record<string, unknown>[];
  send(envelope: Record<string, unknown>): void;
  waitForAck(envelopeId: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function startSocketModeSlack(): Promise<SocketModeSlack> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const acks: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let socket: WebSocket | undefined;
  const connected = new Promise<WebSocket>((resolve) => {
    server.on('connection', (connection) => {
      socket = connection;
      connection.on('message', (data) => {
        const message: unknown = JSON.parse(String(data));
        if (typeof message === 'object' && message !== null && 'envelope_id' in message) acks.push(message as Record<string, unknown>);
        for (const waiter of [...waiters]) waiter();
      });
      // What Slack sends first on every new connection.
      connection.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'applink-test', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0001' } }));
      resolve(connection);
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/link/?ticket=test-ticket&app_id=A0001`,
    connected,
    acks,
    send(envelope) {
      if (!socket) throw new Error('no Socket Mode client is connected');
      socket.send(JSON.stringify(envelope));
    },
    waitForAck(envelopeId) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ack for envelope ${envelopeId}; acks so far: ${JSON.stringify(acks)}`)), 10_000);
        const check = () => {
          const ack = acks.find((candidate) => candidate.envelope_id === envelopeId);
          if (!ack) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(ack);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('Slack over Socket Mode', () => {
  const database = useTestDatabase();
  let socketSlack: SocketModeSlack;
  let fake: FakeSlack;
  let lifeline: Lifeline;

  beforeAll(async () => {
    socketSlack = await startSocketModeSlack();
    fake = await startFakeSlack({ socketModeUrl: () => socketSlack.url });
    lifeline = await startLifeline({
      config: parseConfig({ PORT: '0', SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_APP_TOKEN: 'xapp-1-A0001-test', SLACK_API_URL: fake.apiUrl }),
      database,
      logger: silentLogger,
      host: '127.0.0.1',
      slackRetryConfig: { retries: 0 },
    });
    await socketSlack.connected;
  });

  afterAll(async () => {
    await lifeline?.close();
    await socketSlack?.close();
    await fake?.close();
  });

  it('opens its connection with the app token through the configured Web API, and serves no /slack/events', async () => {
    const [open] = fake.callsTo('apps.connections.open');
    expect(open?.token).toBe('xapp-1-A0001-test');
    const refused = await fetch(`${lifeline.url}/slack/events`, { method: 'POST', body: 'payload=%7B%7D', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(refused.status).toBe(404);
    expect(await refused.text()).toContain('Socket Mode');
  });

  it('acks a /lifeline command with its envelope_id and answers through its response_url, as over HTTP', async () => {
    await createUser(database.db, { slackUserId: 'USOCKET01', role: 'csm' });
    socketSlack.send({
      envelope_id: 'env-command-1',
      type: 'slash_commands',
      accepts_response_payload: true,
      payload: slashCommand({ text: 'help', user_id: 'USOCKET01', response_url: fake.responseUrl('socket-help') }),
    });
    const ack = await socketSlack.waitForAck('env-command-1');
    expect(ack).toEqual({ envelope_id: 'env-command-1', payload: {} });
    const answers = await fake.waitForCalls('response_url', 1);
    const answer = answers.find((call) => call.responseId === 'socket-help');
    expect(answer?.body).toMatchObject({ response_type: 'ephemeral' });
    expect(JSON.stringify(answer?.body)).toContain('/lifeline account');
  });

  it('acks a click on the Home tab and opens the account, as over HTTP', async () => {
    const csm = await createUser(database.db, { slackUserId: 'USOCKET02', role: 'csm' });
    const account = await createAccount(database.db, { name: 'Socket Account', csmId: csm.id });
    const before = fake.calls.length;
    socketSlack.send({
      envelope_id: 'env-click-1',
      type: 'interactive',
      accepts_response_payload: false,
      payload: homeBlockAction({ userId: 'USOCKET02' }, clickedButton({ actionId: ActionIds.openAccount, blockId: 'home_item', value: account.id })),
    });
    expect(await socketSlack.waitForAck('env-click-1')).toEqual({ envelope_id: 'env-click-1', payload: {} });
    await expect
      .poll(() => fake.calls.slice(before).filter((call) => call.method !== 'auth.test').map((call) => `${call.method}:${call.outcome}`), { timeout: 10_000 })
      .toEqual(expect.arrayContaining([expect.stringMatching(/^views\.(open|push|update):ok$|^chat\.postMessage:ok$/)]));
    expect(JSON.stringify(fake.calls.slice(before).map((call) => call.body))).toContain('Socket Account');
  });

  it('acks an app_home_opened event and publishes the Home tab', async () => {
    await createUser(database.db, { slackUserId: 'USOCKET03', role: 'csm' });
    const envelope = appHomeOpenedEvent({ userId: 'USOCKET03' });
    socketSlack.send({ envelope_id: 'env-event-1', type: 'events_api', accepts_response_payload: false, retry_attempt: 0, retry_reason: '', payload: envelope });
    expect(await socketSlack.waitForAck('env-event-1')).toEqual({ envelope_id: 'env-event-1', payload: {} });
    const published = await fake.waitForCalls('views.publish', 1);
    expect(published.some((call) => call.body.user_id === 'USOCKET03' && call.outcome === 'ok')).toBe(true);
  });
});
