import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { parseConfig } from '../../config.ts';
import { slackSendRate } from '../../db/schema.ts';
import { type Lifeline, type LifelineOptions, startLifeline } from '../../server.ts';
import { type TestDatabase, createTestDatabase } from './database.ts';
import { type FakeSlack, type FakeSlackOptions, startFakeSlack } from './fake-slack.ts';
import { silentLogger } from './graphql.ts';
import { type SlackRequestClient, createSlackClient } from './slack-requests.ts';

/** Lifeline as Slack sees it: a real server on loopback, its Web API calls going to a fake Slack, signed requests in. */
export interface SlackHarness {
  database: TestDatabase;
  fake: FakeSlack;
  lifeline: Lifeline;
  /** Sends requests signed with this Lifeline's signing secret to its /slack/events. */
  slack: SlackRequestClient;
  signingSecret: string;
  close(): Promise<void>;
}

export interface SlackHarnessOptions {
  /** Extra configuration, e.g. SLACK_HANDOFF_CHANNEL. */
  env?: Record<string, string>;
  delivery?: LifelineOptions['delivery'];
  /** An existing database to serve; one of its own by default (and destroyed on close). */
  database?: TestDatabase;
  /**
   * Retries of interactive Web API calls; none by default so an injected 500 shows at once. A test about
   * retries passes the production default (server.ts) instead.
   */
  slackRetryConfig?: LifelineOptions['slackRetryConfig'];
  /** Where the server logs; nowhere by default. */
  logger?: LifelineOptions['logger'];
  /** A fresh random one by default. */
  signingSecret?: string;
  /** The fake Slack's workspace, e.g. the members users.lookupByEmail and users.info know. */
  fakeSlack?: FakeSlackOptions;
}

export async function startSlackHarness(options: SlackHarnessOptions = {}): Promise<SlackHarness> {
  const signingSecret = options.signingSecret ?? randomBytes(16).toString('hex');
  const database = options.database ?? (await createTestDatabase());
  const fake = await startFakeSlack(options.fakeSlack);
  const lifeline = await startLifeline({
    config: parseConfig({ PORT: '0', SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_SIGNING_SECRET: signingSecret, SLACK_API_URL: fake.apiUrl, ...options.env }),
    database,
    logger: options.logger ?? silentLogger,
    host: '127.0.0.1',
    // Interactive Web API calls fail at once, so a test that makes the fake answer 500 sees it without waiting.
    slackRetryConfig: options.slackRetryConfig ?? { retries: 0 },
    ...(options.delivery ? { delivery: options.delivery } : {}),
  });
  const slack = createSlackClient({ url: `${lifeline.url}/slack/events`, signingSecret });
  return {
    database,
    fake,
    lifeline,
    slack,
    signingSecret,
    async close() {
      await lifeline.close();
      await fake.close();
      if (!options.database) await database.destroy();
    },
  };
}

/**
 * One harness for a test file: started before its tests (then `ready` runs, e.g. to create the people), closed
 * after them. Before each test the fake forgets the calls of the one before; with `drainBetweenTests`, what an
 * earlier test left to deliver goes out first, so each test sees only its own notifications.
 */
export function useSlackHarness(options: SlackHarnessOptions & { drainBetweenTests?: boolean }, ready: (harness: SlackHarness) => Promise<void>): void {
  const { drainBetweenTests, ...harnessOptions } = options;
  let harness: SlackHarness | undefined;
  beforeAll(async () => {
    harness = await startSlackHarness(harnessOptions);
    await ready(harness);
  });
  afterAll(async () => {
    await harness?.close();
  });
  beforeEach(async () => {
    if (drainBetweenTests) await harness?.lifeline.delivery.drainOnce();
    harness?.fake.reset();
    // A fresh Slack each test: the send rate learned from the previous one's 429s (a pause, a cut) is forgotten.
    await harness?.database.db.delete(slackSendRate);
  });
}
