// Waiting for what a background worker does (a scheduler's catch-up, a replica taking a run over): a probe is
// polled until it finds it, and a test that waits too long says what never happened.
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `probe` every 25 ms, up to 10 s, until it returns something. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let tries = 0; tries < 400; tries += 1) {
    const found = await probe();
    if (found !== undefined) return found;
    await sleep(25);
  }
  throw new Error(`${what} never happened`);
}
