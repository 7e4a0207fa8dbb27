import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';

/** What every listener needs: the database (through domain functions) and a logger. */
export interface BotDeps {
  db: Db;
  logger: Logger;
}
