import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postWebhook } from '../bot/webhooks.ts';
import { type User, outbox } from '../db/schema.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { CLAIM_LEASE_MS, claimDueNotifications } from '../domain/outbox.ts';
import { webhookBody } from '../domain/webhook-events.ts';
import { webhookEventTypes } from '../domain/webhook-events.ts';
import type { Lifeline } from '../server.ts';
import type { TestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createAccountWithHealth, storedHealthOf } from './support/health.ts';
import { addTicket } from './support/signals.ts';
import { useSlackHarness } from './support/slack-harness.ts';

/** A receiver on loopback: records what it was sent and answers as told, one answer per request in turn. */
interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Status codes to answer with, in order; 200 once they run out. */
  answers: number[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const answers: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = answers.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status < 300 ? 'ok' : 'receiver is down');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/lifeline`,
    received,
    answers,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver does with a request: verify it with the endpoint's secret (throws when it does not verify). */
function verified(secret: string, request: Received): { type: string; version: number; timestamp: string; data: Record<string, unknown> } {
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
  return new Webhook(secret).verify(request.body, headers) as never;
}

let database: TestDatabase;
let lifeline: Lifeline;
let adminToken: string;
let managerToken: string;
let csm: User;
let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
const MAX_ATTEMPTS = 3;

useSlackHarness(
  {
    env: { SLACK_HANDOFF_CHANNEL: 'C0HANDOFF1', SLACK_AT_RISK_CHANNEL: 'C0ATRISK01' },
    delivery: { clock, backoff: { baseMs: 5_000, maxMs: 60_000 }, maxAttempts: MAX_ATTEMPTS, perTargetIntervalMs: 0 },
  },
  async (harness) => {
    ({ database, lifeline } = harness);
    const admin = await createUser(database.db, { role: 'admin', name: 'Ada Admin' });
    const manager = await createUser(database.db, { role: 'manager', name: 'Mo Manager' });
    csm = await createUser(database.db, { role: 'csm', name: 'Cy Csm', slackUserId: 'UCSMWEBHOOK' });
    adminToken = await createToken(database.db, 'admin', admin);
    managerToken = await createToken(database.db, 'manager', manager);
  },
);

beforeEach(async () => {
  offsetMs = 0;
  // Each test starts from a quiet outbox and no endpoints listening.
  await lifeline.delivery.drainOnce();
  await graphql('{ webhookEndpoints { id active } }').then(async (body) => {
    for (const endpoint of (body.data?.webhookEndpoints ?? []) as { id: string; active: boolean }[]) {
      if (endpoint.active) await graphql('mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { id } }', { id: endpoint.id });
    }
  });
});

interface GraphqlBody {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

async function graphql(query: string, variables: Record<string, unknown> = {}, token = adminToken): Promise<GraphqlBody> {
  const response = await fetch(`${lifeline.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphqlBody;
}

async function createEndpoint(url: string, eventTypes: string[]): Promise<{ id: string; secret: string }> {
  const body = await graphql('mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id url eventTypes active } } }', {
    input: { url, eventTypes },
  });
  expect(body.errors).toBeUndefined();
  const created = body.data?.createWebhookEndpoint;
  return { id: created.endpoint.id, secret: created.secret };
}

async function moveStage(accountId: string, toStage: string, reason: string | null = null) {
  const current = await graphql('query ($id: ID!) { account(id: $id) { version } }', { id: accountId });
  const body = await graphql('mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { transition { id } } }', {
    input: { accountId, toStage, expectedVersion: current.data?.account.version, reason },
  });
  expect(body.errors).toBeUndefined();
}

async function deliveries(endpointId: string) {
  const body = await graphql(
    'query ($endpoint: ID) { webhookDeliveries(endpoint: $endpoint, first: 10) { edges { cursor node { id eventId eventType status attemptCount lastError attempts { attempt statusCode error } } } pageInfo { hasNextPage } } }',
    { endpoint: endpointId },
  );
  expect(body.errors).toBeUndefined();
  return (body.data?.webhookDeliveries.edges as { node: any }[]).map((edge) => edge.node);
}

const receivers: Receiver[] = [];
beforeAll(() => () => Promise.all(receivers.map((receiver) => receiver.close())).then(() => undefined));
async function receiver(): Promise<Receiver> {
  const started = await startReceiver();
  receivers.push(started);
  return started;
}

describe('webhook endpoints', () => {
  it('are created by admins with a whsec_ secret shown once; http is refused except on loopback, saying how to fix it', async () => {
    const hook = await receiver();
    const { secret } = await createEndpoint(hook.url, ['account.stage_moved']);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const listed = await graphql('{ webhookEndpoints { url eventTypes active } }');
    expect(listed.data?.webhookEndpoints).toContainEqual({ url: hook.url, eventTypes: ['account.stage_moved'], active: true });
    expect(JSON.stringify(listed)).not.toContain(secret);

    const plain = await graphql('mutation { createWebhookEndpoint(input: { url: "http://crm.example.com/hook", eventTypes: ["account.stage_moved"] }) { secret } }');
    expect(plain.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(plain.errors?.[0]?.message).toMatch(/must use https.*change "http:\/\/" to "https:\/\/"/);
    const unknown = await graphql('mutation { createWebhookEndpoint(input: { url: "https://crm.example.com/hook", eventTypes: ["account.exploded"] }) { secret } }');
    expect(unknown.errors?.[0]?.message).toMatch(/no event type "account.exploded".*account.stage_moved/);
  });

  it('refuse everyone but admins, for every query and mutation', async () => {
    const hook = await receiver();
    const { id } = await createEndpoint(hook.url, ['task.created']);
    const attempts = [
      graphql('{ webhookEndpoints { id } }', {}, managerToken),
      graphql('{ webhookDeliveries(first: 5) { edges { node { id } } } }', {}, managerToken),
      graphql(`mutation { createWebhookEndpoint(input: { url: "${hook.url}", eventTypes: ["task.created"] }) { secret } }`, {}, managerToken),
      graphql('mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret } }', { id }, managerToken),
      graphql('mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { id } }', { id }, managerToken),
      graphql('mutation ($id: ID!) { updateWebhookEndpoint(id: $id, input: { active: false }) { id } }', { id }, managerToken),
    ];
    for (const body of await Promise.all(attempts)) {
      expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(body.errors?.[0]?.message).toMatch(/cannot manage webhook endpoints.*ask an admin/);
    }
    const endpoints = await graphql('{ webhookEndpoints { id active } }');
    expect(endpoints.data?.webhookEndpoints).toContainEqual({ id, active: true });
  });
});

describe('webhook delivery through the outbox', () => {
  it('a stage move through GraphQL reaches each subscribed endpoint exactly once, signed, with the same webhook-id', async () => {
    const [first, second, other, disabled] = await Promise.all([receiver(), receiver(), receiver(), receiver()]);
    const a = await createEndpoint(first.url, ['account.stage_moved', 'task.created']);
    const b = await createEndpoint(second.url, ['account.stage_moved']);
    await createEndpoint(other.url, ['task.completed']);
    const off = await createEndpoint(disabled.url, ['account.stage_moved']);
    await graphql('mutation ($id: ID!) { disableWebhookEndpoint(id: $id) { id } }', { id: off.id });

    const account = await createAccount(database.db, { name: 'Webhook Widgets', stageKey: 'onboarding', csmId: csm.id });
    await moveStage(account.id, 'pre_onboarding', 'Kickoff slipped: back to the start');
    await lifeline.delivery.drainOnce();
    await lifeline.delivery.drainOnce();

    expect(first.received).toHaveLength(1);
    expect(second.received).toHaveLength(1);
    expect(other.received).toHaveLength(0);
    expect(disabled.received).toHaveLength(0);
    const [toFirst] = first.received;
    const [toSecond] = second.received;
    if (!toFirst || !toSecond) throw new Error('nothing received');
    const event = verified(a.secret, toFirst);
    expect(event).toMatchObject({ type: 'account.stage_moved', version: webhookEventTypes['account.stage_moved'].version });
    expect(event.data).toMatchObject({
      accountId: account.id,
      accountName: 'Webhook Widgets',
      fromStage: 'onboarding',
      toStage: 'pre_onboarding',
      direction: 'backward',
      reason: 'Kickoff slipped: back to the start',
      source: 'api',
      actor: { label: 'Ada Admin' },
    });
    expect(verified(b.secret, toSecond)).toEqual(event);
    // One event, one id, whichever endpoint receives it; a receiver with the other's secret refuses it.
    expect(toSecond.headers['webhook-id']).toBe(toFirst.headers['webhook-id']);
    expect(() => verified(b.secret, toFirst)).toThrow();
    expect(toFirst.headers['content-type']).toBe('application/json');

    const [delivered] = await deliveries(a.id);
    expect(delivered).toMatchObject({ eventType: 'account.stage_moved', eventId: toFirst.headers['webhook-id'], status: 'SENT', attemptCount: 1 });
    expect(delivered.attempts).toEqual([{ attempt: 1, statusCode: 200, error: null }]);
  });

  it('retries with backoff after 500s, then succeeds once and never sends again', async () => {
    const hook = await receiver();
    const { id, secret } = await createEndpoint(hook.url, ['task.created']);
    hook.answers.push(500, 500);
    const account = await createAccount(database.db, { csmId: csm.id });
    const created = await graphql('mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }', {
      input: { accountId: account.id, title: 'Call the champion', dueOn: new Date().toISOString().slice(0, 10), ownerId: csm.id },
    });
    expect(created.errors).toBeUndefined();

    expect(await lifeline.delivery.drainOnce()).toMatchObject({ retried: 1 });
    expect(hook.received).toHaveLength(1);
    // Not due yet: the backoff holds it back.
    await lifeline.delivery.drainOnce();
    expect(hook.received).toHaveLength(1);
    const [waiting] = await deliveries(id);
    expect(waiting).toMatchObject({ status: 'PENDING', attemptCount: 1, lastError: 'The endpoint answered HTTP 500: receiver is down' });

    offsetMs += 10_000;
    await lifeline.delivery.drainOnce();
    offsetMs += 30_000;
    await lifeline.delivery.drainOnce();
    expect(hook.received).toHaveLength(3);
    offsetMs += 120_000;
    await lifeline.delivery.drainOnce();
    expect(hook.received).toHaveLength(3);

    const ids = new Set(hook.received.map((request) => request.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (const request of hook.received) expect(verified(secret, request)).toMatchObject({ type: 'task.created', data: { taskId: created.data?.createTask.id, ownerId: csm.id } });
    const [done] = await deliveries(id);
    expect(done).toMatchObject({ status: 'SENT', attemptCount: 3, lastError: null });
    expect(done.attempts.map((attempt: { statusCode: number }) => attempt.statusCode)).toEqual([500, 500, 200]);
  });

  it(`parks after ${MAX_ATTEMPTS} failed attempts; a replay sends it again with the same webhook-id`, async () => {
    const hook = await receiver();
    const { id, secret } = await createEndpoint(hook.url, ['account.stage_moved']);
    hook.answers.push(503, 503, 503);
    const account = await createAccount(database.db, { stageKey: 'onboarding', csmId: csm.id });
    await moveStage(account.id, 'implementation');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      await lifeline.delivery.drainOnce();
      offsetMs += 120_000;
    }
    expect(hook.received).toHaveLength(MAX_ATTEMPTS);
    const [parked] = await deliveries(id);
    expect(parked.status).toBe('PARKED');
    expect(parked.lastError).toMatch(/^Gave up after 3 attempts: The endpoint answered HTTP 503/);
    const parkedList = await graphql('query ($e: ID) { webhookDeliveries(endpoint: $e, status: PARKED, first: 5) { edges { node { id } } } }', { e: id });
    expect(parkedList.data?.webhookDeliveries.edges).toEqual([{ node: { id: parked.id } }]);

    const replay = await graphql('mutation ($id: ID!) { replayWebhookDelivery(id: $id) { status eventId } }', { id: parked.id });
    expect(replay.data?.replayWebhookDelivery).toEqual({ status: 'PENDING', eventId: parked.eventId });
    const again = await graphql('mutation ($id: ID!) { replayWebhookDelivery(id: $id) { status } }', { id: parked.id });
    expect(again.errors?.[0]?.message).toMatch(/still queued/);
    await lifeline.delivery.drainOnce();
    expect(hook.received).toHaveLength(MAX_ATTEMPTS + 1);
    expect(new Set(hook.received.map((request) => request.headers['webhook-id']))).toEqual(new Set([parked.eventId]));
    expect(verified(secret, hook.received.at(-1) as Received)).toMatchObject({ type: 'account.stage_moved' });
    expect((await deliveries(id))[0]).toMatchObject({ status: 'SENT' });
  });

  it('a worker that dies between sending and recording the answer: the event is sent again with the same webhook-id', async () => {
    const hook = await receiver();
    const { id, secret } = await createEndpoint(hook.url, ['account.stage_moved']);
    const account = await createAccount(database.db, { stageKey: 'onboarding', csmId: csm.id });
    await moveStage(account.id, 'implementation');

    // The dying worker: claims the row and posts it exactly as delivery does, then is gone before recording anything.
    const claimed = (await claimDueNotifications(database.db, { now: clock(), limit: 50 })).filter((row) => row.target === `webhook:${id}`);
    expect(claimed).toHaveLength(1);
    const [row] = claimed;
    if (!row || row.payload.eventId === undefined) throw new Error('no webhook row claimed');
    const envelope = row.payload as { eventId: string; type: string; version: number; timestamp: string; data: unknown };
    const { outcome } = await postWebhook({ url: hook.url, secret, eventId: envelope.eventId, body: webhookBody(envelope), at: new Date(), timeoutMs: 5_000 });
    expect(outcome.kind).toBe('sent');
    expect(hook.received).toHaveLength(1);

    // The lease keeps the row from other workers for a while, then it is delivered again.
    await lifeline.delivery.drainOnce();
    expect(hook.received).toHaveLength(1);
    offsetMs += CLAIM_LEASE_MS + 1_000;
    await lifeline.delivery.drainOnce();
    expect(hook.received).toHaveLength(2);
    const [once, twice] = hook.received as [Received, Received];
    expect(twice.headers['webhook-id']).toBe(once.headers['webhook-id']);
    expect(verified(secret, twice)).toEqual(verified(secret, once));
    const [stored] = await database.db.select().from(outbox).where(eq(outbox.id, row.id));
    expect(stored).toMatchObject({ status: 'sent', attempts: 2 });
    offsetMs += CLAIM_LEASE_MS * 2;
    await lifeline.delivery.drainOnce();
    expect(hook.received).toHaveLength(2);
  });

  it('a recompute that changes an account’s health status sends its score, components and reasons; one that changes nothing sends nothing', async () => {
    const hook = await receiver();
    const { secret } = await createEndpoint(hook.url, ['account.health_changed']);
    const now = new Date();
    const account = await createAccountWithHealth(database.db, { name: 'Sliding Co', stageKey: 'mature_adoption', csmId: csm.id }, { score: 92, status: 'healthy' });
    await addTicket(database.db, account.id, now, { severity: 'urgent', openedDaysAgo: 3 });
    await addTicket(database.db, account.id, now, { severity: 'urgent', openedDaysAgo: 2 });
    await recomputeHealth(database.db, { now, accountIds: [account.id] });
    await recomputeHealth(database.db, { now, accountIds: [account.id] });
    await lifeline.delivery.drainOnce();
    expect(hook.received).toHaveLength(1);
    const event = verified(secret, hook.received[0] as Received);
    expect(event).toMatchObject({ type: 'account.health_changed', version: 1, data: { accountId: account.id, accountName: 'Sliding Co', previousStatus: 'healthy' } });
    const health = await storedHealthOf(database.db, account.id);
    expect(event.data).toMatchObject({ status: health?.status, score: health?.score, reasons: health?.reasons, components: health?.components });
    expect(health?.status).not.toBe('healthy');
  });

  it('does not follow a redirect: the delivery parks saying to register the final URL', async () => {
    const hook = await receiver();
    const { id } = await createEndpoint(hook.url, ['account.stage_moved']);
    hook.answers.push(301);
    const account = await createAccount(database.db, { stageKey: 'onboarding', csmId: csm.id });
    await moveStage(account.id, 'implementation');
    await lifeline.delivery.drainOnce();
    const [parked] = await deliveries(id);
    expect(parked.status).toBe('PARKED');
    expect(parked.lastError).toMatch(/does not follow redirects; register the final URL/);
  });
});
