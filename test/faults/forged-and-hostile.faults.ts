import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, count, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionIds, cardBlockId } from '../../bot/ids.ts';
import { accounts, outbox, stageTransitions } from '../../db/schema.ts';
import { createAccount, createToken, createUser } from '../support/factories.ts';
import { signSlackRequest, slashCommand, staticSelectAction } from '../support/slack-requests.ts';
import { recordScenario } from './support/report.ts';
import type { Replica } from './support/replica.ts';
import { FAULT_SIGNING_SECRET, type FaultStack, startFaultStack } from './support/stack.ts';

let stack: FaultStack;

/** Where stage-move audit notes go, so the replay test can count them in Slack. */
const AUDIT_CHANNEL = 'C0FAULTAUDIT';

beforeAll(async () => {
  stack = await startFaultStack({ replicas: 1, env: { SLACK_HANDOFF_CHANNEL: AUDIT_CHANNEL } });
});
afterAll(async () => {
  await stack?.teardown();
});

const ANSWER_WITHIN_MS = 10_000;
const FORM = 'application/x-www-form-urlencoded';

/** Every hostile request must get an answer: a hang is a failure even if the server survives. */
async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
  return { status: response.status, text: await response.text() };
}

/**
 * Sends a large body in slices and stops as soon as the server answers. After `pauseAfter` bytes it waits a moment
 * for an answer before sending the rest, as a client sending `Expect: 100-continue` does: a server that bounds bodies
 * has answered by then (from the Content-Length alone, or once the bytes passed its bound), and a client that kept
 * pushing bytes into a connection the server is closing could lose that answer to the reset. A server that reads
 * everything gets everything. With `chunked`, no Content-Length announces the size, so only counting the bytes as
 * they arrive can bound it.
 */
function postLarge(url: string, body: Buffer, headers: Record<string, string>, options: { chunked: boolean; pauseAfter: number }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = httpRequest(url, {
      method: 'POST',
      headers: { ...headers, ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) }) },
    });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer within ${ANSWER_WITHIN_MS * 3} ms to a ${body.length}-byte body`));
    }, ANSWER_WITHIN_MS * 3);
    const answer = new Promise<void>((done) => {
      request.on('response', (response) => {
        answered = true;
        done();
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          clearTimeout(timer);
          request.destroy();
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
    });
    request.on('error', (error) => {
      // Once answered, the server may drop the rest of the upload: that is the point.
      if (answered) return;
      clearTimeout(timer);
      reject(new Error(`the server closed the connection without answering a ${body.length}-byte body (${error.message}); it should answer 413`));
    });
    void (async () => {
      const slice = 64 * 1024;
      let paused = false;
      request.flushHeaders();
      for (let offset = 0; offset < body.length && !answered && !request.destroyed; offset += slice) {
        if (!paused && offset >= options.pauseAfter) {
          paused = true;
          await Promise.race([answer, sleep(3000)]);
          if (answered || request.destroyed) return;
        }
        if (!request.write(body.subarray(offset, offset + slice))) {
          await new Promise<void>((done) => {
            const settle = () => {
              request.off('drain', settle);
              request.off('close', settle);
              done();
            };
            request.on('drain', settle);
            request.on('close', settle);
          });
        }
      }
      if (!answered && !request.destroyed) request.end();
    })();
  });
}

/** The peak resident memory of a process so far, from the kernel: it only ever grows. */
async function peakMemoryBytes(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  if (!kilobytes) throw new Error(`no VmHWM line in /proc/${pid}/status`);
  return Number(kilobytes) * 1024;
}

async function stageChain(accountId: string) {
  return stack.database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, accountId)).orderBy(asc(stageTransitions.accountVersion));
}

function replicaOf(): Replica {
  const replica = stack.replicas[0];
  if (!replica) throw new Error('no replica');
  return replica;
}

/** The process answers Slack and GraphQL after what was thrown at it. */
async function stillServes(replica: Replica): Promise<string[]> {
  const problems: string[] = [];
  if (replica.exited()) return [`the replica process ended: ${await replica.whenExited()}\n${replica.output().slice(-3000)}`];
  const healthz = await fetch(`${replica.url}/healthz`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) }).catch((error: unknown) => error);
  if (!(healthz instanceof Response) || healthz.status !== 200) problems.push(`/healthz: ${healthz instanceof Response ? healthz.status : String(healthz)}`);
  const ssl = new URLSearchParams({ ssl_check: '1', token: 'x' }).toString();
  const slack = await post(`${replica.url}/slack/events`, ssl, { 'content-type': FORM, ...signSlackRequest(FAULT_SIGNING_SECRET, ssl) }).catch((error: unknown) => ({ status: 0, text: String(error) }));
  if (slack.status !== 200) problems.push(`a signed Slack ssl_check: ${slack.status} ${slack.text}`);
  return problems;
}

function stageClick(input: { userId: string; accountId: string; version: number; to: string; responseId: string; padding?: string }): string {
  const payload = staticSelectAction({
    userId: input.userId,
    actionId: ActionIds.stageSelect,
    blockId: cardBlockId(input.accountId, input.version),
    selectedValue: input.to,
    responseUrl: stack.fake.responseUrl(input.responseId),
    container: { type: 'message', channelId: 'C0001', messageTs: '1700000000.000100', isEphemeral: true },
  });
  // Slack ignores fields it does not know; an oversized request can be a real click carrying a huge one.
  return new URLSearchParams({ payload: JSON.stringify(input.padding === undefined ? payload : { ...payload, padding: input.padding }) }).toString();
}

describe('forged Slack requests', () => {
  it('wrong, missing, stale and tampered signatures are all refused with 401 and none reaches the domain', async () => {
    const user = await createUser(stack.database.db, { role: 'admin', slackUserId: 'UFORGE0001' });
    const account = await createAccount(stack.database.db, { stageKey: 'onboarding', name: 'Target Inc' });
    const url = `${replicaOf().url}/slack/events`;
    const body = stageClick({ userId: user.slackUserId ?? '', accountId: account.id, version: 1, to: 'implementation', responseId: 'forged' });
    const now = Math.floor(Date.now() / 1000);
    const valid = signSlackRequest(FAULT_SIGNING_SECRET, body, now);
    const stale = signSlackRequest(FAULT_SIGNING_SECRET, body, now - 6 * 60);

    const attempts: { name: string; body: string; headers: Record<string, string> }[] = [
      { name: 'wrong signature', body, headers: { 'content-type': FORM, 'x-slack-request-timestamp': String(now), 'x-slack-signature': `v0=${'0'.repeat(64)}` } },
      { name: 'signed with another secret', body, headers: { 'content-type': FORM, ...signSlackRequest('another-secret', body, now) } },
      { name: 'missing headers', body, headers: { 'content-type': FORM } },
      { name: 'missing timestamp', body, headers: { 'content-type': FORM, 'x-slack-signature': valid['x-slack-signature'] } },
      { name: 'correctly signed, timestamp older than 5 minutes', body, headers: { 'content-type': FORM, ...stale } },
      { name: 'valid signature moved to a newer timestamp', body, headers: { 'content-type': FORM, 'x-slack-request-timestamp': String(now + 10), 'x-slack-signature': valid['x-slack-signature'] } },
      { name: 'tampered body, original signature', body: body.replace('implementation', 'churned'), headers: { 'content-type': FORM, ...valid } },
    ];
    let rejected = 0;
    const unexpected: string[] = [];
    for (const attempt of attempts) {
      const response = await post(url, attempt.body, attempt.headers);
      if (response.status === 401) rejected += 1;
      else unexpected.push(`${attempt.name}: ${response.status}, expected 401`);
    }
    const history = await stageChain(account.id);
    const forgedAnswers = stack.fake.calls.filter((call) => call.responseId === 'forged');
    await recordScenario({
      scenario: '7a. forged Slack requests',
      repetitions: attempts.length,
      // Nothing forged may cause a notification or an answer: any would count as delivered.
      expected: 0,
      delivered: forgedAnswers.length + history.length - 1,
      duplicated: 'n/a',
      rejected,
      failures: unexpected.length + forgedAnswers.length + (history.length - 1),
    });
    expect(unexpected).toEqual([]);
    expect(history).toHaveLength(1);
    expect(forgedAnswers).toEqual([]);
  });

  it('a body larger than any Slack payload is refused with 413 before its signature is checked, signed or not, and the process keeps serving', async () => {
    const replica = replicaOf();
    const url = `${replica.url}/slack/events`;
    const user = await createUser(stack.database.db, { role: 'admin', slackUserId: 'UFORGE0002' });
    const account = await createAccount(stack.database.db, { stageKey: 'onboarding', name: 'Bulky Inc' });
    // A real click on a real card, correctly signed, 20 MB: only its size is wrong.
    const signedBody = Buffer.from(stageClick({ userId: user.slackUserId ?? '', accountId: account.id, version: 1, to: 'implementation', responseId: 'oversized', padding: 'x'.repeat(20 * 1024 * 1024) }));
    const signed = () => ({ 'content-type': FORM, ...signSlackRequest(FAULT_SIGNING_SECRET, signedBody.toString('utf8')) });
    // Unsigned and huge: what one anonymous POST can do to memory when bodies are read whole before the check.
    const unsignedBody = Buffer.alloc(100 * 1024 * 1024, 'x');
    const peakBefore = await peakMemoryBytes(replica.process.pid);

    const attempts = [
      // Announced by Content-Length: refusable before a byte of the body is read.
      { name: 'correctly signed 20 MB click, Content-Length', send: () => postLarge(url, signedBody, signed(), { chunked: false, pauseAfter: 0 }) },
      { name: 'unsigned 100 MB, Content-Length', send: () => postLarge(url, unsignedBody, { 'content-type': FORM }, { chunked: false, pauseAfter: 0 }) },
      // Unannounced: refusable once the bytes that arrived pass the bound, well before 4 MB of them.
      { name: 'correctly signed 20 MB click, chunked', send: () => postLarge(url, signedBody, signed(), { chunked: true, pauseAfter: 4 * 1024 * 1024 }) },
      { name: 'unsigned 100 MB, chunked', send: () => postLarge(url, unsignedBody, { 'content-type': FORM }, { chunked: true, pauseAfter: 4 * 1024 * 1024 }) },
    ];
    const outcomes: string[] = [];
    let rejected = 0;
    for (const attempt of attempts) {
      const response = await attempt.send().catch((error: unknown) => ({ status: 0, text: String(error) }));
      if (response.status === 413) rejected += 1;
      outcomes.push(`${attempt.name}: ${response.status}${response.status === 413 ? '' : ` ${response.text.slice(0, 200)}`}`);
    }
    const peakGrowth = (await peakMemoryBytes(replica.process.pid)) - peakBefore;
    const serving = await stillServes(replica);
    const history = await stageChain(account.id);
    await recordScenario({
      scenario: '7b. oversized Slack requests',
      repetitions: attempts.length,
      expected: 'n/a',
      delivered: 'n/a',
      duplicated: 'n/a',
      rejected,
      failures: attempts.length - rejected + serving.length + (history.length - 1),
      note: `peak memory of the replica grew ${Math.round(peakGrowth / 1024 / 1024)} MB over ${attempts.length} requests of 20-100 MB`,
    });
    expect(outcomes).toEqual(attempts.map((attempt) => `${attempt.name}: 413`));
    expect(serving).toEqual([]);
    expect(history, 'the oversized click moved nothing').toHaveLength(1);
    // Bounded means the body is never held whole: far less than one of them.
    expect(peakGrowth).toBeLessThan(32 * 1024 * 1024);
  });

  it('a correctly signed request replayed inside the 5-minute window takes effect once: one stage move, one audit note', async () => {
    const replica = replicaOf();
    const url = `${replica.url}/slack/events`;
    const user = await createUser(stack.database.db, { role: 'admin', slackUserId: 'UFORGE0003' });
    const account = await createAccount(stack.database.db, { stageKey: 'onboarding', name: 'Replay Ltd' });
    const click = stageClick({ userId: user.slackUserId ?? '', accountId: account.id, version: 1, to: 'implementation', responseId: 'replay-click' });
    // One capture, sent twice byte for byte: same body, same timestamp, same signature.
    const clickHeaders = { 'content-type': FORM, ...signSlackRequest(FAULT_SIGNING_SECRET, click) };
    const first = await post(url, click, clickHeaders);
    await stack.fake.waitForCalls('response_url', 1, ANSWER_WITHIN_MS);
    const answersToFirst = stack.fake.calls.filter((call) => call.responseId === 'replay-click').length;
    const replayed = await post(url, click, clickHeaders);
    // The replay is answered too (it is a valid request); wait for that answer before counting effects.
    const deadline = Date.now() + ANSWER_WITHIN_MS;
    while (Date.now() < deadline && stack.fake.calls.filter((call) => call.responseId === 'replay-click').length <= answersToFirst) await sleep(50);

    const command = new URLSearchParams(
      Object.entries(slashCommand({ text: 'account Replay Ltd', user_id: user.slackUserId ?? '', response_url: stack.fake.responseUrl('replay-command') })).map(([key, value]) => [key, String(value)]),
    ).toString();
    const commandHeaders = { 'content-type': FORM, ...signSlackRequest(FAULT_SIGNING_SECRET, command) };
    const outboxBefore = await stack.database.db.select({ total: count() }).from(outbox);
    const commandStatuses = [(await post(url, command, commandHeaders)).status, (await post(url, command, commandHeaders)).status];
    const commandAnswers = await stack.fake.waitForCalls('response_url', 1, ANSWER_WITHIN_MS).then(async () => {
      const until = Date.now() + ANSWER_WITHIN_MS;
      while (Date.now() < until && stack.fake.calls.filter((call) => call.responseId === 'replay-command').length < 2) await sleep(50);
      return stack.fake.calls.filter((call) => call.responseId === 'replay-command');
    });
    const outboxAfter = await stack.database.db.select({ total: count() }).from(outbox);

    // The audit note is delivered to its channel: once.
    const auditRows = await stack.database.db.select().from(outbox).where(and(eq(outbox.kind, 'stage_audit'), sql`${outbox.payload}->>'accountId' = ${account.id}`));
    const until = Date.now() + 30_000;
    while (Date.now() < until && auditRows.length > 0) {
      const rows = await stack.database.db.select().from(outbox).where(inArray(outbox.id, auditRows.map((row) => row.id)));
      if (rows.every((row) => row.status !== 'pending')) break;
      await sleep(200);
    }
    const auditPosts = stack.fake
      .callsTo('chat.postMessage')
      .filter((call) => call.outcome === 'ok' && auditRows.some((row) => JSON.stringify(call.body.metadata ?? {}).includes(`"outbox_id":"${row.id}"`)));
    const history = await stageChain(account.id);
    const [after] = await stack.database.db.select().from(accounts).where(eq(accounts.id, account.id));
    const replayAnswers = stack.fake.calls.filter((call) => call.responseId === 'replay-click').slice(answersToFirst);

    await recordScenario({
      scenario: '7c. replayed Slack requests (same body, signature, timestamp)',
      repetitions: 2,
      expected: 1,
      delivered: auditPosts.length,
      duplicated: Math.max(0, history.length - 2) + Math.max(0, auditRows.length - 1) + Math.max(0, auditPosts.length - 1),
      rejected: 'n/a',
      failures: [first.status, replayed.status, ...commandStatuses].filter((status) => status !== 200).length,
      note: `click replay answered: "${String(replayAnswers[0]?.body.text ?? 'nothing').slice(0, 80)}"; read-only command replay answered ${commandAnswers.length} times, outbox ${outboxBefore[0]?.total} → ${outboxAfter[0]?.total}`,
    });
    // Slack signs a request, not an intent: a replay inside the window is accepted as a request, and the card's
    // version makes it a stale click, so the account moves once.
    expect([first.status, replayed.status]).toEqual([200, 200]);
    expect(history.map((row) => row.toStage)).toEqual(['onboarding', 'implementation']);
    expect(after?.version).toBe(2);
    expect(auditRows).toHaveLength(1);
    expect(auditPosts).toHaveLength(1);
    expect(replayAnswers.length, 'the replayed click is told it is stale').toBeGreaterThan(0);
    expect(replayAnswers.some((call) => /changed since you loaded it/.test(String(call.body.text ?? '')))).toBe(true);
    // A replayed read-only command shows the card again and changes nothing: acceptable, as a person typing it twice.
    expect(commandStatuses).toEqual([200, 200]);
    expect(commandAnswers).toHaveLength(2);
    expect(outboxAfter[0]?.total).toBe(outboxBefore[0]?.total);
    expect(await stageChain(account.id)).toHaveLength(2);
  });
});

describe('hostile GraphQL queries', () => {
  it('deep, wide, huge and introspection-heavy queries are refused with a clear message, each answered promptly', async () => {
    const admin = await createUser(stack.database.db, { role: 'admin' });
    const token = await createToken(stack.database.db, 'admin', admin);
    const replica = stack.replicas[0];
    if (!replica) throw new Error('no replica');
    const deepIntrospection = `{ __schema { types { fields { type { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } } } }`;
    const queries: { name: string; query: string; variables?: Record<string, unknown> }[] = [
      { name: 'introspection nested 12 deep', query: deepIntrospection },
      { name: '10,000 nested selections', query: `{ viewer ${'{ user '.repeat(10_000)}${'}'.repeat(10_000)} }` },
      { name: '5,000 aliases', query: `{ ${Array.from({ length: 5000 }, (_, index) => `a${index}: stages { key }`).join(' ')} }` },
      { name: '50,000 __typename aliases', query: `{ ${Array.from({ length: 50_000 }, (_, index) => `t${index}: __typename`).join(' ')} }` },
      { name: 'first: 1,000,000,000', query: '{ accounts(first: 1000000000) { edges { node { id } } } }' },
      { name: '1,000 directives', query: `{ stages ${'@include(if: true) '.repeat(1000)} { key } }` },
      { name: '5 MB of variables', query: 'query ($x: String) { stages { key } }', variables: { x: 'y'.repeat(5 * 1024 * 1024) } },
    ];
    const outcomes: string[] = [];
    let rejected = 0;
    for (const hostile of queries) {
      const response = await post(`${replica.url}/graphql`, JSON.stringify({ query: hostile.query, variables: hostile.variables ?? {} }), {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      });
      const parsed: { errors?: { message: string }[]; data?: unknown } = response.text.startsWith('{') ? JSON.parse(response.text) : {};
      const message = parsed.errors?.[0]?.message ?? '';
      if (response.status >= 500 || !message) outcomes.push(`${hostile.name}: HTTP ${response.status} ${response.text.slice(0, 120)}`);
      else rejected += 1;
    }
    await recordScenario({
      scenario: '10. hostile queries',
      repetitions: queries.length,
      expected: 'n/a',
      delivered: 'n/a',
      duplicated: 'n/a',
      rejected,
      failures: outcomes.length,
    });
    expect(outcomes).toEqual([]);
    // Still serving normal traffic afterwards.
    const healthy = await post(`${replica.url}/graphql`, JSON.stringify({ query: '{ stages { key } }' }), { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect(healthy.status).toBe(200);
  });
});
