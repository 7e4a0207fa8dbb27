/**
 * Recomputes health soon after new signals arrive, between scheduled health runs: in-process and best effort.
 */
import type { Logger } from 'pino';
import type { Db } from '../../db/client.ts';
import { recomputeHealth } from './recompute.ts';

/**
 * Recomputes the health of accounts soon after new signals arrive for them (a ticket, an NPS answer, first
 * value), so a CSM sees an urgent ticket in the score within seconds instead of at the next hourly run.
 * Signals arriving close together are gathered and recomputed in one set-based statement per batch.
 *
 * Nothing here is durable on purpose: a refresh lost in a crash only waits for the scheduled health job, which
 * recomputes every account. Recomputes serialise on the database (an advisory lock), so a refresh and the
 * scheduled job never write the same score twice.
 */
export interface HealthRefresher {
  /** Marks accounts as having new signals; their health is recomputed after a short delay. */
  touch(accountIds: readonly string[]): void;
  /** Recomputes everything marked so far, now. */
  flush(): Promise<void>;
  /** Flushes, then ignores further touches. */
  stop(): Promise<void>;
}

export interface HealthRefresherOptions {
  db: Db;
  logger: Logger;
  /** How long to gather signals before recomputing; default 2 s. */
  delayMs?: number;
  /** Accounts per recompute statement; default 5000. */
  batchSize?: number;
  clock?: () => Date;
}

export function createHealthRefresher(options: HealthRefresherOptions): HealthRefresher {
  const { db, logger } = options;
  const delayMs = options.delayMs ?? 2000;
  const batchSize = options.batchSize ?? 5000;
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  async function refresh(): Promise<void> {
    while (pending.size > 0) {
      const batch = [...pending].slice(0, batchSize);
      for (const id of batch) pending.delete(id);
      try {
        const result = await recomputeHealth(db, { accountIds: batch, ...(options.clock ? { now: options.clock() } : {}) });
        logger.debug({ accounts: result.accounts, changed: result.historyRows }, 'health refreshed after new signals');
      } catch (error) {
        // The scheduled health job recomputes every account anyway; this only delays the update until then.
        logger.warn({ err: error, accounts: batch.length }, 'could not refresh health after new signals; the next health run will');
      }
    }
  }

  function run(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    running = running.then(refresh);
    return running;
  }

  return {
    touch(accountIds) {
      if (stopped) return;
      for (const id of accountIds) pending.add(id);
      if (!timer && pending.size > 0) {
        timer = setTimeout(() => void run(), delayMs);
        timer.unref();
      }
    },
    flush: run,
    async stop() {
      stopped = true;
      await run();
    },
  };
}
