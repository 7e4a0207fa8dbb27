/**
 * Admission control for Lifeline's expensive HTTP work. Everything the server does shares one event loop, /healthz
 * included: unbounded, 200 dashboards asking at once each got a share of it, every answer came late, and /healthz
 * answered after seconds, so an orchestrator restarted a healthy replica. A lane lets a few requests work at once
 * (about as many as the database pool can serve), keeps a bounded line of the next ones, and refuses the rest at
 * once with 503 and Retry-After, which costs next to nothing. Each kind of work has its own lane, so a burst of
 * dashboards never delays Slack's acks; /healthz and /readyz never wait in one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { laneAbandoned, laneInFlight, laneQueued, laneRejected } from './metrics.ts';

export interface LaneLimits {
  /** Requests worked on at once. */
  maxInFlight: number;
  /** Requests waiting for a slot; past it, requests are refused. */
  maxQueued: number;
}

/** How long a refused client is asked to wait before it tries again, in seconds (the Retry-After header). */
export const BUSY_RETRY_AFTER_SECONDS = 2;

/** The lane was full: its slots all taken and its line as long as it may be. */
export class LaneFullError extends Error {
  readonly code = 'SERVER_BUSY';
  readonly retryAfterSeconds = BUSY_RETRY_AFTER_SECONDS;

  constructor(
    readonly lane: string,
    readonly limits: LaneLimits,
  ) {
    super(
      `Lifeline is busy: ${limits.maxInFlight} request(s) are being answered and ${limits.maxQueued} more are waiting, the most it takes at once. ` +
        `Nothing was read or changed; send the request again in ${BUSY_RETRY_AFTER_SECONDS} seconds (Retry-After).`,
    );
    this.name = 'LaneFullError';
  }
}

/** The client left while its request waited: nobody is there to answer. */
export class LeftWhileQueuedError extends Error {
  constructor(readonly lane: string) {
    super(`The client left while its request waited in the ${lane} lane.`);
    this.name = 'LeftWhileQueuedError';
  }
}

interface Waiter {
  admit(): void;
}

/** A bounded number of requests at work, a bounded line of waiting ones (first come, first served), and refusal past it. */
export class Lane {
  private inFlight = 0;
  /** A Set keeps insertion order (the line) and removes a client who left in one step. */
  private readonly waiting = new Set<Waiter>();

  constructor(
    readonly name: string,
    readonly limits: LaneLimits,
  ) {
    if (!(limits.maxInFlight >= 1)) throw new Error(`The ${name} lane needs at least one request in flight.`);
    laneInFlight.set({ lane: name }, 0);
    laneQueued.set({ lane: name }, 0);
    laneRejected.inc({ lane: name }, 0);
    laneAbandoned.inc({ lane: name }, 0);
  }

  /** Every slot taken and the line as long as it may be: the next request would be refused. */
  get full(): boolean {
    return this.inFlight >= this.limits.maxInFlight && this.waiting.size >= this.limits.maxQueued;
  }

  /** The refusal of one request (counted in /metrics), for a caller that saw the lane full and answers at once. */
  refusal(): LaneFullError {
    laneRejected.inc({ lane: this.name });
    return new LaneFullError(this.name, this.limits);
  }

  /**
   * Waits for a slot and resolves with the function that gives it back (call it once, when the work is done).
   * Rejects with LaneFullError when the line is full, and with LeftWhileQueuedError when `left` aborts while the
   * request waits: it leaves the line, so it neither takes a slot nor holds a place in the line.
   */
  async acquire(left?: AbortSignal): Promise<() => void> {
    return this.enter(left);
  }

  /**
   * As acquire, but decides at once: throws LaneFullError before returning when the line is full, for a caller
   * that must answer before it may wait (Slack's ack).
   */
  enter(left?: AbortSignal): Promise<() => void> {
    if (left?.aborted) return Promise.reject(new LeftWhileQueuedError(this.name));
    const release = this.tryAcquire();
    if (release) return Promise.resolve(release);
    if (this.full) throw this.refusal();
    return new Promise((resolve, reject) => {
      const onLeft = () => {
        this.waiting.delete(waiter);
        this.report();
        laneAbandoned.inc({ lane: this.name });
        reject(new LeftWhileQueuedError(this.name));
      };
      const waiter: Waiter = {
        admit: () => {
          left?.removeEventListener('abort', onLeft);
          resolve(this.releaser());
        },
      };
      left?.addEventListener('abort', onLeft, { once: true });
      this.waiting.add(waiter);
      this.report();
    });
  }

  /**
   * Takes a free slot at once and returns the function that gives it back, or undefined when every slot is taken
   * (then acquire waits in the line). A slot is free only while nobody waits: a slot given back passes to the first
   * in line, so taking it here never jumps the line.
   */
  tryAcquire(): (() => void) | undefined {
    if (this.inFlight >= this.limits.maxInFlight) return undefined;
    this.take();
    return this.releaser();
  }

  /** Runs `work` in a slot of this lane (see acquire). */
  async run<T>(work: () => Promise<T>, left?: AbortSignal): Promise<T> {
    const release = await this.acquire(left);
    try {
      return await work();
    } finally {
      release();
    }
  }

  private take(): void {
    this.inFlight += 1;
    this.report();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      const next = this.waiting.values().next();
      if (!next.done) {
        // The slot passes straight to the first in line.
        this.waiting.delete(next.value);
        this.take();
        next.value.admit();
      } else {
        this.report();
      }
    };
  }

  private report(): void {
    laneInFlight.set({ lane: this.name }, this.inFlight);
    laneQueued.set({ lane: this.name }, this.waiting.size);
  }
}

/**
 * 503 with Retry-After for a request its lane had no room for. A GraphQL client gets the GraphQL-over-HTTP error
 * shape (`errors` with `extensions.code`), in the media type it asked for; other endpoints get Lifeline's JSON error.
 */
export function refuseBusy(req: IncomingMessage, res: ServerResponse, error: LaneFullError, graphql: boolean): void {
  const extensions = { code: error.code, retryAfterSeconds: error.retryAfterSeconds };
  const body = JSON.stringify(graphql ? { errors: [{ message: error.message, extensions }] } : { error: { ...extensions, message: error.message } });
  const accept = req.headers.accept ?? '';
  const type = graphql && accept.includes('application/graphql-response+json') && !accept.includes('application/json') ? 'application/graphql-response+json' : 'application/json';
  res.writeHead(503, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'retry-after': String(error.retryAfterSeconds),
  });
  res.end(body);
}

/**
 * Runs `work` in a slot of `lane`. A request that finds the lane full is refused at once; one whose client
 * disconnects while it waits leaves the line unanswered (nobody is there to read an answer).
 *
 * The slot comes back when the work is done or the connection closes, whichever is first. A client that leaves in
 * the middle of a large answer (a load balancer's timeout, a closed tab, a benchmark's end) leaves the GraphQL
 * server's writer waiting for a 'drain' the closed socket never emits: its promise never settles, and a slot held
 * until then would be lost for good; a few such clients would leave the lane full and every later request refused.
 */
export async function inLane(lane: Lane, req: IncomingMessage, res: ServerResponse, graphql: boolean, work: () => Promise<void> | void): Promise<void> {
  // A free slot is taken at once; only a request that must wait in the line watches for its client leaving.
  let release = lane.tryAcquire();
  if (!release) {
    const left = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) left.abort();
    };
    res.once('close', onClose);
    try {
      release = await lane.acquire(left.signal);
    } catch (error) {
      if (error instanceof LaneFullError) return refuseBusy(req, res, error, graphql);
      if (error instanceof LeftWhileQueuedError) return;
      throw error;
    } finally {
      res.off('close', onClose);
    }
  }
  const closed = new Promise<void>((resolve) => {
    if (res.closed) resolve();
    else res.once('close', () => resolve());
  });
  try {
    // After the connection closed nobody reads the answer; an error of the work's that comes later is the work's
    // own to report (the GraphQL server logs its errors), not this request's.
    await Promise.race([Promise.resolve().then(work), closed]);
  } finally {
    release();
  }
}
