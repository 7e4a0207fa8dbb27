import { ErrorCode, type WebClient } from '@slack/web-api';
import type { Db } from '../db/client.ts';
import { SlackLinkRefusedError } from '../domain/errors.ts';
import { type SlackEmailLookupAnswer, claimSlackEmailLookups, linkPersonToSlack, recordSlackEmailLookup } from '../domain/people-links.ts';

export interface SlackLinkCounts {
  [count: string]: number;
  linked: number;
  notFound: number;
  refused: number;
  retried: number;
}

const BATCH = 50;

/** What a failed users.lookupByEmail means for the person: unknown to Slack, wait as told, or ask again later. */
function answerOf(error: unknown, now: Date, attempts: number): SlackEmailLookupAnswer {
  const code: unknown = typeof error === 'object' && error !== null ? Reflect.get(error, 'code') : undefined;
  if (code === ErrorCode.RateLimitedError) {
    const seconds: unknown = Reflect.get(error as object, 'retryAfter');
    return { outcome: 'later', at: new Date(now.getTime() + Math.max(typeof seconds === 'number' ? seconds : 60, 1) * 1000) };
  }
  if (code === ErrorCode.PlatformError) {
    const data: unknown = Reflect.get(error as object, 'data');
    const platformError: unknown = typeof data === 'object' && data !== null ? Reflect.get(data, 'error') : undefined;
    if (platformError === 'users_not_found') return { outcome: 'not_found', error: 'Slack has no member with this email (users_not_found).' };
    return { outcome: 'retry', attempts, error: `Slack refused the lookup: ${String(platformError)}` };
  }
  return { outcome: 'retry', attempts, error: error instanceof Error ? error.message : String(error) };
}

/**
 * The `slack_links` job: asks Slack (`users.lookupByEmail`) for the people ingestion queued without a Slack id and
 * links each through `linkPersonToSlack`. Slack answering `users_not_found`, or a member already linked to someone
 * else, is recorded and not asked again; an outage is retried a few times with backoff; a 429 stops the run.
 */
export function createSlackLinkJob(client: WebClient): (ctx: { db: Db; now: Date }) => Promise<SlackLinkCounts> {
  return async ({ db, now }) => {
    const counts: SlackLinkCounts = { linked: 0, notFound: 0, refused: 0, retried: 0 };
    // Each claimed row is leased past `now`, so every round takes new people and the loop ends.
    for (let round = 0; round < 1000; round += 1) {
      const due = await claimSlackEmailLookups(db, { now, limit: BATCH });
      if (due.length === 0) break;
      for (const [index, person] of due.entries()) {
        let slackUserId: string | undefined;
        try {
          const answer = await client.users.lookupByEmail({ email: person.email });
          slackUserId = answer.user?.id;
          if (!slackUserId) throw new Error('users.lookupByEmail answered ok without a member id');
        } catch (error) {
          const answer = answerOf(error, now, person.attempts);
          if (answer.outcome === 'later') {
            // Slack's limit holds for the method: the rest of the batch waits too, then asks again.
            for (const waiting of due.slice(index)) await recordSlackEmailLookup(db, { userId: waiting.userId, now, answer });
            counts.retried += due.length - index;
            return counts;
          }
          await recordSlackEmailLookup(db, { userId: person.userId, now, answer });
          counts[answer.outcome === 'not_found' ? 'notFound' : 'retried'] += 1;
          continue;
        }
        try {
          const result = await linkPersonToSlack(db, { personId: person.userId, slackUserId, source: 'email_lookup' });
          counts.linked += result.linked ? 1 : 0;
        } catch (error) {
          if (!(error instanceof SlackLinkRefusedError)) throw error;
          await recordSlackEmailLookup(db, { userId: person.userId, now, answer: { outcome: 'refused', slackUserId, error: error.message } });
          counts.refused += 1;
        }
      }
    }
    return counts;
  };
}
