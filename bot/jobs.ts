import type { Db } from '../db/client.ts';
import { queueDailyDigest } from '../domain/digest.ts';
import { queueOverdueHandoffs } from '../domain/escalations.ts';
import { queueOverdueTasks } from '../domain/plays/tasks.ts';
import type { WebClient } from '@slack/web-api';
import type { DeliveryWorker } from './delivery.ts';
import { createSlackLinkJob } from './slack-links.ts';

type JobFn = (ctx: { db: Db; now: Date }) => Promise<Record<string, number>>;

/**
 * The Slack side's scheduled jobs. `digest` queues the day's at-risk digests, escalations and overdue-handoff
 * notices and overdue-task escalations (all idempotent); `outbox` drains the outbox once, a safety net beside the delivery loop;
 * `slack_links` links the people ingestion gave without a Slack id by asking Slack for their email.
 */
export function createSlackJobs(delivery: DeliveryWorker, client: WebClient | undefined): { digest: JobFn; outbox: JobFn; slack_links?: JobFn } {
  // Without a Slack workspace (local mode) there is nobody to look up: the job is not here.
  const links = client ? createSlackLinkJob(client) : undefined;
  return {
    ...(links ? { slack_links: async (ctx: { db: Db; now: Date }) => ({ ...(await links(ctx)) }) } : {}),
    digest: async ({ db, now }) => {
      const digest = await queueDailyDigest(db, { now });
      const handoffs = await queueOverdueHandoffs(db, { now });
      const tasks = await queueOverdueTasks(db, { now });
      delivery.wake();
      return { ...digest, ...handoffs, ...tasks };
    },
    outbox: async () => ({ ...(await delivery.drainOnce()) }),
  };
}
