import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';

/** Runs work in the bounded after-ack pool and resolves with its result. */
export type AfterAckPool = <T>(work: () => Promise<T>) => Promise<T>;

/** What every listener needs: the database (through domain functions) and a logger. */
export interface BotDeps {
  db: Db;
  logger: Logger;
  /** Wakes the outbox worker after a change queued notifications, so the message updates without waiting a poll. */
  onNotificationsQueued?: (() => void) | undefined;
  clock?: () => Date;
  afterAck: AfterAckPool;
}

/**
 * Slack wants every ack within 3 seconds, and people feel anything slower than a blink. The work a click
 * starts after its ack (queries, rendering, Web API calls) shares the event loop with the acks of the clicks
 * still arriving; run without a bound, a burst of 50 clicks makes the last ack wait for the work of the 49
 * before it. A small pool keeps that work flowing while each new request is acked as soon as it is read.
 */
export function createAfterAckPool(concurrency: number): AfterAckPool {
  const limit = pLimit(concurrency);
  return (work) => limit(work);
}

type Ackable = { ack: () => Promise<void> };

/** A listener that acks at once and does the rest of its work in the after-ack pool. */
export function ackFirst<Args extends Ackable>(afterAck: AfterAckPool, work: (args: Args) => Promise<void>) {
  return async (args: Args): Promise<void> => {
    await args.ack();
    await afterAck(() => work(args));
  };
}
