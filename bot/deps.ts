import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';

/** What every listener needs: the database (through domain functions) and a logger. */
export interface BotDeps {
  db: Db;
  logger: Logger;
  /** Wakes the outbox worker after a change queued notifications, so the message updates without waiting a poll. */
  onNotificationsQueued?: (() => void) | undefined;
  clock?: () => Date;
}
