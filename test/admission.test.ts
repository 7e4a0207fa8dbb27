import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processRegistry } from '../metrics.ts';
import { createToken, createUser } from './support/factories.ts';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';
import { slashCommand } from './support/slack-requests.ts';
import { waitUntil } from './support/wait.ts';

// Lanes configured tiny: one request at work and one waiting, for GraphQL and for Slack alike.
let harness: SlackHarness;
let token: string;
const SLACK_USER = 'UADMIT001';

beforeAll(async () => {
  harness = await startSlackHarness({
    env: { LIFELINE_API_MAX_IN_FLIGHT: '1', LIFELINE_API_MAX_QUEUED: '1', LIFELINE_SLACK_MAX_IN_FLIGHT: '1', LIFELINE_SLACK_MAX_QUEUED: '1' },
  });
  const admin = await createUser(harness.database.db, { role: 'admin', slackUserId: SLACK_USER });
  token = await createToken(harness.database.db, 'admin', admin);
});
afterAll(async () => {
  await harness?.close();
});

/**
 * A real database gate: a transaction holding an exclusive lock on the tables every request here reads (the stages
 * a query asks for, the people a token or a Slack user is checked against), so requests that reach the database
 * wait for it until `release`. On PGlite, which runs one statement at a time, the open transaction holds every
 * other statement back as well.
 */
async function holdTheDatabase(): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const transaction = harness.database.db.transaction(async (tx) => {
    await tx.execute(sql`lock table lifecycle_stages, users, api_tokens in access exclusive mode`);
    locked();
    await released;
  });
  await Promise.race([isLocked, transaction]);
  return {
    async release() {
      release();
      await transaction;
    },
  };
}

function graphql(query: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${harness.lifeline.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
    ...(signal ? { signal } : {}),
  });
}

/** One sample of this process's metrics, as /metrics on METRICS_PORT serves them. */
async function sample(name: string, lane: string): Promise<number | undefined> {
  const text = await processRegistry.metrics();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{lane="${lane}"} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

const laneFull = async (lane: string) =>
  (await sample('lifeline_http_in_flight', lane)) === 1 && (await sample('lifeline_http_queue_depth', lane)) === 1 ? true : undefined;

interface GraphqlAnswer {
  data?: { stages?: { key: string }[] };
  errors?: { message: string; extensions?: { code?: string; retryAfterSeconds?: number } }[];
}

describe('admission control under a burst', () => {
  it('past one request at work and one waiting, GraphQL answers 503 with Retry-After and says what to do; /healthz still answers at once; the admitted ones succeed', async () => {
    const rejectedBefore = (await sample('lifeline_http_rejected_total', 'api')) ?? 0;
    const gate = await holdTheDatabase();
    let first: Promise<Response> | undefined;
    let second: Promise<Response> | undefined;
    try {
      first = graphql('{ stages { key } }');
      await waitUntil('the first request taking the only slot', async () => ((await sample('lifeline_http_in_flight', 'api')) === 1 ? true : undefined));
      second = graphql('{ stages { key } }');
      await waitUntil('the second request waiting in line', () => laneFull('api'));

      const refused = await graphql('{ stages { key } }');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('2');
      expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await refused.json()) as GraphqlAnswer;
      expect(body.data).toBeUndefined();
      expect(body.errors).toHaveLength(1);
      expect(body.errors?.[0]?.extensions).toEqual({ code: 'SERVER_BUSY', retryAfterSeconds: 2 });
      expect(body.errors?.[0]?.message).toMatch(/Lifeline is busy: 1 request\(s\) are being answered and 1 more are waiting/);
      expect(body.errors?.[0]?.message).toMatch(/Nothing was read or changed; send the request again in 2 seconds/);
      expect(await sample('lifeline_http_rejected_total', 'api')).toBe(rejectedBefore + 1);

      // The CRM webhook waits in the same lane, and is refused the same way, in its own error shape.
      const webhook = await fetch(`${harness.lifeline.url}/webhooks/crm`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(webhook.status).toBe(503);
      expect(webhook.headers.get('retry-after')).toBe('2');
      expect(await webhook.json()).toEqual({ error: { code: 'SERVER_BUSY', retryAfterSeconds: 2, message: expect.stringMatching(/^Lifeline is busy/) } });
      expect(await sample('lifeline_http_rejected_total', 'api')).toBe(rejectedBefore + 2);

      // The lane is full (and stays so: the database is held) when /healthz is asked, and it answers.
      expect(await laneFull('api')).toBe(true);
      const health = await fetch(`${harness.lifeline.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      expect(await laneFull('api')).toBe(true);

      // Slack has a lane of its own: a slash command is acked while GraphQL's lane is full.
      const command = await harness.slack.command(slashCommand({ text: 'help', user_id: SLACK_USER, response_url: harness.fake.responseUrl('busy-help') }));
      expect(command.status).toBe(200);
    } finally {
      await gate.release();
    }
    const answers = await Promise.all([first, second].map(async (pending) => {
      const response = await pending;
      return { status: response?.status, body: (await response?.json()) as GraphqlAnswer };
    }));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data?.stages?.map((stage) => stage.key)).toContain('onboarding');
    }
    await waitUntil('the lane emptying', async () => ((await sample('lifeline_http_in_flight', 'api')) === 0 && (await sample('lifeline_http_queue_depth', 'api')) === 0 ? true : undefined));
    await waitUntil('the command answered', async () => (harness.fake.callsTo('response_url').some((call) => call.responseId === 'busy-help') ? true : undefined));
    await waitUntil("Slack's lane emptying", async () => ((await sample('lifeline_http_in_flight', 'slack')) === 0 ? true : undefined));
  });

  it('a request whose client left while it waited is dropped from the line, and the next one takes its place', async () => {
    const abandonedBefore = (await sample('lifeline_http_abandoned_total', 'api')) ?? 0;
    const gate = await holdTheDatabase();
    let first: Promise<Response> | undefined;
    let next: Promise<Response> | undefined;
    try {
      first = graphql('{ stages { key } }');
      await waitUntil('the first request taking the only slot', async () => ((await sample('lifeline_http_in_flight', 'api')) === 1 ? true : undefined));
      const leaving = new AbortController();
      const left = graphql('{ stages { key } }', leaving.signal).catch((error: unknown) => error);
      await waitUntil('the second request waiting in line', () => laneFull('api'));
      leaving.abort();
      expect(await left).toBeInstanceOf(Error);
      await waitUntil('the request whose client left being dropped', async () => ((await sample('lifeline_http_queue_depth', 'api')) === 0 ? true : undefined));
      expect(await sample('lifeline_http_abandoned_total', 'api')).toBe(abandonedBefore + 1);
      expect(await sample('lifeline_http_in_flight', 'api')).toBe(1);

      // Its place is free: the next request waits instead of being refused.
      next = graphql('{ stages { key } }');
      await waitUntil('the next request waiting in line', () => laneFull('api'));
    } finally {
      await gate.release();
    }
    for (const pending of [first, next]) {
      const response = await pending;
      expect(response?.status).toBe(200);
      expect(((await response?.json()) as GraphqlAnswer).data?.stages?.length).toBeGreaterThan(0);
    }
  });

  it("past one Slack request at work and one waiting, Slack is answered 503 with Retry-After instead of an ack (so it sends it again), and the acked ones are answered", async () => {
    const rejectedBefore = (await sample('lifeline_http_rejected_total', 'slack')) ?? 0;
    harness.fake.reset();
    const gate = await holdTheDatabase();
    try {
      const first = await harness.slack.command(slashCommand({ text: 'at-risk', user_id: SLACK_USER, response_url: harness.fake.responseUrl('first') }));
      expect(first.status).toBe(200);
      await waitUntil('the first command at work', async () => ((await sample('lifeline_http_in_flight', 'slack')) === 1 ? true : undefined));
      const second = await harness.slack.command(slashCommand({ text: 'at-risk', user_id: SLACK_USER, response_url: harness.fake.responseUrl('second') }));
      expect(second.status).toBe(200);
      await waitUntil('the second command waiting in line', () => laneFull('slack'));

      const refused = await harness.slack.command(slashCommand({ text: 'at-risk', user_id: SLACK_USER, response_url: harness.fake.responseUrl('third') }));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('2');
      expect(refused.json()).toEqual({ error: { code: 'SERVER_BUSY', retryAfterSeconds: 2, message: expect.stringMatching(/^Lifeline is busy/) } });
      expect(await sample('lifeline_http_rejected_total', 'slack')).toBe(rejectedBefore + 1);

      const health = await fetch(`${harness.lifeline.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await laneFull('slack')).toBe(true);
    } finally {
      await gate.release();
    }
    const answered = await waitUntil('both acked commands answered', async () => {
      const ids = harness.fake.callsTo('response_url').map((call) => call.responseId);
      return ids.includes('first') && ids.includes('second') ? ids : undefined;
    });
    expect(answered).not.toContain('third');
  });
});
