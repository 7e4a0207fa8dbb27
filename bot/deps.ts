import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';

/** What a person is told when a request could not be served because the database is unreachable. */
export const DATABASE_UNAVAILABLE_MESSAGE = "Lifeline can't reach its database right now, so nothing was changed. Try again in a minute.";

/** What every listener needs: the database (through domain functions) and a logger. */
export interface BotDeps {
  db: Db;
  logger: Logger;
  /** Wakes the outbox worker after a change queued notifications, so the message updates without waiting a poll. */
  onNotificationsQueued?: (() => void) | undefined;
  clock?: () => Date;
  /** Days before contract end that a renewal counts as upcoming (config.jobs.renewalWindowDays): lists and words use it. */
  renewalWindowDays: number;
  /**
   * For calls that spend a click's trigger_id (views.open, views.push): it never retries, because the trigger
   * expires 3 seconds after the click and a retry after a 429's Retry-After could only fail.
   */
  triggerClient: WebClient;
}
