import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionIds, cardBlockId } from '../../bot/ids.ts';
import { stageTransitions } from '../../db/schema.ts';
import { createAccount, createToken, createUser } from '../support/factories.ts';
import { signSlackRequest, staticSelectAction } from '../support/slack-requests.ts';
import { recordScenario } from './support/report.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';

let stack: FaultStack;

beforeAll(async () => {
  stack = await startFaultStack({ replicas: 1 });
});
afterAll(async () => {
  await stack?.teardown();
});

const ANSWER_WITHIN_MS = 10_000;

/** Every hostile request must get an answer: a hang is a failure even if the server survives. */
async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
  return { status: response.status, text: await response.text() };
}

describe('forged Slack requests', () => {
  it('wrong, missing, stale, replayed and oversized requests are all rejected and none reaches the domain', async () => {
    const user = await createUser(stack.database.db, { role: 'admin', slackUserId: 'UFORGE0001' });
    const account = await createAccount(stack.database.db, { stageKey: 'onboarding', name: 'Target Inc' });
    const replica = stack.replicas[0];
    if (!replica) throw new Error('no replica');
    const url = `${replica.url}/slack/events`;
    const body = new URLSearchParams({
      payload: JSON.stringify(
        staticSelectAction({
          userId: user.slackUserId ?? '',
          actionId: ActionIds.stageSelect,
          blockId: cardBlockId(account.id, 1),
          selectedValue: 'implementation',
          responseUrl: stack.fake.responseUrl('forged'),
          container: { type: 'message', channelId: 'C0001', messageTs: '1700000000.000100', isEphemeral: true },
        }),
      ),
    }).toString();
    const form = 'application/x-www-form-urlencoded';
    const now = Math.floor(Date.now() / 1000);
    const valid = signSlackRequest('fault-suite-signing-secret', body, now);
    const stale = signSlackRequest('fault-suite-signing-secret', body, now - 6 * 60);

    const attempts: { name: string; body: string; headers: Record<string, string> }[] = [
      { name: 'wrong signature', body, headers: { 'content-type': form, 'x-slack-request-timestamp': String(now), 'x-slack-signature': `v0=${'0'.repeat(64)}` } },
      { name: 'signed with another secret', body, headers: { 'content-type': form, ...signSlackRequest('another-secret', body, now) } },
      { name: 'missing headers', body, headers: { 'content-type': form } },
      { name: 'missing timestamp', body, headers: { 'content-type': form, 'x-slack-signature': valid['x-slack-signature'] } },
      { name: 'timestamp older than 5 minutes', body, headers: { 'content-type': form, ...stale } },
      { name: 'replayed body with a new timestamp', body, headers: { 'content-type': form, 'x-slack-request-timestamp': String(now + 10), 'x-slack-signature': valid['x-slack-signature'] } },
      { name: 'tampered body, original signature', body: body.replace('implementation', 'churned'), headers: { 'content-type': form, ...valid } },
      { name: 'oversized body', body: `payload=${'x'.repeat(12 * 1024 * 1024)}`, headers: { 'content-type': form, 'x-slack-request-timestamp': String(now), 'x-slack-signature': `v0=${'1'.repeat(64)}` } },
    ];
    let rejected = 0;
    const unexpected: string[] = [];
    for (const attempt of attempts) {
      const response = await post(url, attempt.body, attempt.headers);
      if (response.status >= 400 && response.status < 500) rejected += 1;
      else unexpected.push(`${attempt.name}: ${response.status}`);
    }
    const history = await stack.database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, account.id)).orderBy(asc(stageTransitions.accountVersion));
    expect(unexpected).toEqual([]);
    expect(history).toHaveLength(1);
    expect(stack.fake.calls.filter((call) => call.responseId === 'forged')).toEqual([]);

    // The correctly signed original still works: the rejections were about authenticity only.
    expect((await post(url, body, { 'content-type': form, ...valid })).status).toBe(200);
    await stack.fake.waitForCalls('response_url', 1);
    await recordScenario({
      scenario: '7. forged Slack requests',
      repetitions: attempts.length,
      expected: 0,
      delivered: 0,
      duplicated: 0,
      rejected,
      failures: unexpected.length,
      note: 'genuine request afterwards: accepted',
    });
  });
});

describe('hostile GraphQL queries', () => {
  it('deep, wide, huge and introspection-heavy queries are refused with a clear message, each answered promptly', async () => {
    const admin = await createUser(stack.database.db, { role: 'admin' });
    const token = await createToken(stack.database.db, 'admin', admin);
    const replica = stack.replicas[0];
    if (!replica) throw new Error('no replica');
    const deepIntrospection = `{ __schema { types { fields { type { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } } } }`;
    const queries: { name: string; query: string; variables?: Record<string, unknown> }[] = [
      { name: 'introspection nested 12 deep', query: deepIntrospection },
      { name: '10,000 nested selections', query: `{ viewer ${'{ user '.repeat(10_000)}${'}'.repeat(10_000)} }` },
      { name: '5,000 aliases', query: `{ ${Array.from({ length: 5000 }, (_, index) => `a${index}: stages { key }`).join(' ')} }` },
      { name: '50,000 __typename aliases', query: `{ ${Array.from({ length: 50_000 }, (_, index) => `t${index}: __typename`).join(' ')} }` },
      { name: 'first: 1,000,000,000', query: '{ accounts(first: 1000000000) { edges { node { id } } } }' },
      { name: '1,000 directives', query: `{ stages ${'@include(if: true) '.repeat(1000)} { key } }` },
      { name: '5 MB of variables', query: 'query ($x: String) { stages { key } }', variables: { x: 'y'.repeat(5 * 1024 * 1024) } },
    ];
    const outcomes: string[] = [];
    let rejected = 0;
    for (const hostile of queries) {
      const response = await post(`${replica.url}/graphql`, JSON.stringify({ query: hostile.query, variables: hostile.variables ?? {} }), {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      });
      const parsed: { errors?: { message: string }[]; data?: unknown } = response.text.startsWith('{') ? JSON.parse(response.text) : {};
      const message = parsed.errors?.[0]?.message ?? '';
      if (response.status >= 500 || !message) outcomes.push(`${hostile.name}: HTTP ${response.status} ${response.text.slice(0, 120)}`);
      else rejected += 1;
    }
    await recordScenario({
      scenario: '10. hostile queries',
      repetitions: queries.length,
      expected: 0,
      delivered: 0,
      duplicated: 0,
      rejected,
      failures: outcomes.length,
    });
    expect(outcomes).toEqual([]);
    // Still serving normal traffic afterwards.
    const healthy = await post(`${replica.url}/graphql`, JSON.stringify({ query: '{ stages { key } }' }), { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect(healthy.status).toBe(200);
  });
});
