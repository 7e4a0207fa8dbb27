import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import { type TestDatabase, createTestDatabase } from './support/database.ts';
import { type FakeSlack, startFakeSlack } from './support/fake-slack.ts';
import { silentLogger } from './support/graphql.ts';
import { type SlackRequestClient, createSlackClient, slashCommand } from './support/slack-requests.ts';

describe('Slack unreachable when Lifeline starts', () => {
  let database: TestDatabase;
  let fake: FakeSlack;
  let lifeline: Lifeline;
  let slack: SlackRequestClient;
  const unhandled: unknown[] = [];
  const recordUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', recordUnhandled);
    database = await createTestDatabase();
    fake = await startFakeSlack();
    // Slack answers nothing but errors to the bot's identity check until the test says otherwise.
    let slackDown = true;
    fake.failWhen('auth.test', () => (slackDown ? { status: 500 } : undefined));
    const signingSecret = randomBytes(16).toString('hex');
    lifeline = await startLifeline({
      config: parseConfig({ PORT: '0', SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_SIGNING_SECRET: signingSecret, SLACK_API_URL: fake.apiUrl }),
      database,
      logger: silentLogger,
      host: '127.0.0.1',
      slackRetryConfig: { retries: 0 },
    });
    slack = createSlackClient({ url: `${lifeline.url}/slack/events`, signingSecret });
    restoreSlack = () => {
      slackDown = false;
    };
  });
  let restoreSlack: () => void = () => {};

  afterAll(async () => {
    await lifeline?.close();
    await fake?.close();
    await database?.destroy();
    process.off('unhandledRejection', recordUnhandled);
  });

  it('keeps serving while Slack fails, and answers Slack requests once Slack is back, without restarting', async () => {
    // A request while Slack is down: the bot's identity check reaches the fake and fails.
    const first = await slack.command(slashCommand({ text: 'help', user_id: 'UNOBODY01', response_url: fake.responseUrl('while-down') }));
    expect(first.status).toBe(200);
    const failedChecks = await fake.waitForCalls('auth.test', 1);
    expect(failedChecks.length).toBeGreaterThanOrEqual(1);
    expect(failedChecks.every((call) => call.outcome === 'http_500')).toBe(true);

    // The person is answered, not left waiting on a request that cannot be worked on.
    const [toldWhileDown] = await fake.waitForCalls('response_url', 1);
    expect(toldWhileDown?.responseId).toBe('while-down');

    // The process is still up and serving everything else.
    const ready = await fetch(`${lifeline.url}/healthz`);
    expect(ready.status).toBe(200);

    // Slack comes back: the next request asks for the identity again instead of failing on the old answer.
    restoreSlack();
    const answeredBefore = fake.callsTo('response_url').length;
    const second = await slack.command(slashCommand({ text: 'help', user_id: 'UNOBODY01', response_url: fake.responseUrl('after-recovery') }));
    expect(second.status).toBe(200);
    const answers = await fake.waitForCalls('response_url', answeredBefore + 1);
    expect(answers.map((call) => call.responseId)).toContain('after-recovery');
    expect(fake.callsTo('auth.test').some((call) => call.outcome === 'ok')).toBe(true);
    expect(unhandled).toEqual([]);
  });
});
