import { randomBytes } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { Writable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { eq, sql } from 'drizzle-orm';
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { GRAPHQL_BODY_LIMIT } from '../api/limits.ts';
import { CRM_SIGNATURE_HEADER, CRM_TIMESTAMP_HEADER, CRM_WEBHOOK_BODY_LIMIT, signCrmWebhook } from '../api/webhooks/crm.ts';
import { createGraphqlServer } from '../api/yoga.ts';
import { boltLogger } from '../bot/bolt-logger.ts';
import { LOCAL_SLACK_BODY_LIMIT } from '../bot/local-slack.ts';
import { SLACK_REQUEST_BODY_LIMIT, SlackReceiver } from '../bot/receiver.ts';
import { parseConfig } from '../config.ts';
import { accounts, stageTransitions, tickets } from '../db/schema.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import { type TestDatabase, createTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import type { FakeSlack } from './support/fake-slack.ts';
import { useSlackHarness } from './support/slack-harness.ts';
import { eventEnvelope, signSlackRequest, slashCommand } from './support/slack-requests.ts';

const SIGNING_SECRET = randomBytes(16).toString('hex');
const CRM_SECRET = 'crm-webhook-secret-0123456789abcdef';
const DASHBOARD_ORIGIN = 'https://dash.example.com';

/** Every line the server logs, parsed, so tests can look at levels and stacks. */
interface LogLine {
  level: number;
  msg?: string;
  err?: { stack?: string };
  [key: string]: unknown;
}
const logLines: LogLine[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line) as LogLine);
      done();
    },
  }),
);
const ERROR_LEVEL = 50;

let database: TestDatabase;
let fake: FakeSlack;
let lifeline: Lifeline;
let managerToken: string;

useSlackHarness({ signingSecret: SIGNING_SECRET, logger, env: { CRM_WEBHOOK_SECRET: CRM_SECRET, LIFELINE_CORS_ORIGINS: DASHBOARD_ORIGIN } }, async (harness) => {
  ({ database, fake, lifeline } = harness);
  const manager = await createUser(database.db, { role: 'manager', name: 'Maya Manager' });
  managerToken = await createToken(database.db, 'manager', manager);
});
beforeEach(() => {
  logLines.length = 0;
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** Body bytes the client had written when the answer arrived. */
  sent: number;
}

/**
 * Posts a body the way a client that does not stop would: chunk after chunk (chunked transfer encoding, or under a
 * declared Content-Length), until the server answers or `total` bytes were written. A raw socket rather than an HTTP
 * client: once the server has answered and closed, writing the rest fails, and an HTTP client would report that
 * failure instead of the answer it already received.
 */
function postRaw(url: string, options: { headers?: Record<string, string>; first?: string; total: number; declareLength?: boolean }): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise<RawResponse>((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname);
    const received: Buffer[] = [];
    let sent = 0;
    let sentWhenAnswered: number | undefined;
    const headers = {
      host: target.host,
      'content-type': 'application/json',
      ...(options.declareLength ? { 'content-length': String(options.total) } : { 'transfer-encoding': 'chunked' }),
      ...options.headers,
    };
    const head = `POST ${target.pathname}${target.search} HTTP/1.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
    const answered = () => sentWhenAnswered !== undefined;
    socket.on('data', (chunk: Buffer) => {
      sentWhenAnswered ??= sent;
      received.push(chunk);
    });
    // Writing after the server closed fails; what matters is what it answered.
    socket.on('error', () => {});
    socket.on('close', () => {
      const raw = Buffer.concat(received).toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(raw);
      if (!match) {
        reject(new Error(`No HTTP answer after ${sent} bytes: ${JSON.stringify(raw.slice(0, 200))}`));
        return;
      }
      const responseHeaders = Object.fromEntries(
        (match[2] ?? '').split('\r\n').map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(match[1]), headers: responseHeaders, text: match[3] ?? '', sent: sentWhenAnswered ?? sent });
    });
    const first = Buffer.from(options.first ?? '');
    const filler = Buffer.alloc(64 * 1024, 0x20);
    const frame = (chunk: Buffer) => (options.declareLength ? chunk : Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    const pump = () => {
      while (!answered() && !socket.destroyed && sent < options.total) {
        const chunk = sent === 0 && first.length > 0 ? first : filler.subarray(0, Math.min(filler.length, options.total - sent));
        sent += chunk.length;
        if (!socket.write(frame(chunk))) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!answered() && !socket.destroyed && !options.declareLength) socket.write('0\r\n\r\n');
    };
    socket.once('connect', () => {
      socket.write(head);
      pump();
    });
  });
}

async function graphql(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await fetch(`${lifeline.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${managerToken}`, ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  return { status: response.status, headers: response.headers, body };
}

/** The server still answers GraphQL: nothing above took it down or wedged it. */
async function expectStillServing(): Promise<void> {
  const response = await graphql('{ stages { key } }');
  expect(response.status).toBe(200);
  expect(response.body.data?.stages).toEqual(expect.arrayContaining([{ key: 'onboarding' }]));
}

/** A signed Slack event whose JSON body is padded with spaces to `size` bytes: correctly signed, just large. */
function signedLargeEvent(size: number): { body: string; headers: Record<string, string> } {
  const envelope = JSON.stringify(eventEnvelope({ type: 'app_home_opened', user: 'U0LARGE', channel: 'DU0LARGE', tab: 'home', event_ts: '1700000000.000100' }));
  const body = envelope + ' '.repeat(size - envelope.length);
  return { body, headers: { ...signSlackRequest(SIGNING_SECRET, body) } };
}

describe('request bodies are bounded on every endpoint', () => {
  it('a correctly signed Slack request larger than Slack ever sends is refused with 413, and the server keeps serving', async () => {
    const { body, headers } = signedLargeEvent(SLACK_REQUEST_BODY_LIMIT * 4);
    const response = await postRaw(`${lifeline.url}/slack/events`, { headers, first: body, total: body.length, declareLength: true });
    expect(response.status).toBe(413);
    await expectStillServing();
  });

  it('an unsigned Slack request of 200 MB is refused with 413 before its body is read', async () => {
    const total = 200 * 1024 * 1024;
    const response = await postRaw(`${lifeline.url}/slack/events`, { total, declareLength: true });
    expect(response.status).toBe(413);
    // The answer came while most of the body was still unsent: nothing waited for it, nothing buffered it.
    expect(response.sent).toBeLessThan(total / 2);
    await expectStillServing();
  });

  it('a chunked Slack body with no Content-Length stops being read as soon as it passes the bound', async () => {
    const total = 200 * 1024 * 1024;
    const { body, headers } = signedLargeEvent(SLACK_REQUEST_BODY_LIMIT + 1024);
    const response = await postRaw(`${lifeline.url}/slack/events`, { headers, first: body, total });
    expect(response.status).toBe(413);
    expect(response.sent).toBeLessThan(total / 2);
    await expectStillServing();
  });

  it('GraphQL refuses a body over its bound with 413, declared or chunked, and keeps serving', async () => {
    const headers = { authorization: `Bearer ${managerToken}` };
    const declared = await postRaw(`${lifeline.url}/graphql`, { headers, total: GRAPHQL_BODY_LIMIT + 1, declareLength: true, first: '{"query":"' });
    expect(declared.status).toBe(413);
    expect(declared.sent).toBeLessThan(GRAPHQL_BODY_LIMIT / 2);
    const total = GRAPHQL_BODY_LIMIT * 4;
    const chunked = await postRaw(`${lifeline.url}/graphql`, { headers, total, first: '{"query":"' });
    expect(chunked.status).toBe(413);
    expect(chunked.sent).toBeLessThan(total / 2);
    expect(JSON.parse(chunked.text)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    await expectStillServing();
  });

  it('a large GraphQL body within its bound is answered without holding the server for a moment per byte', async () => {
    // Yoga's Node adapter once counted a read body's keys, one per byte: 280 ms of CPU a megabyte, with nothing
    // else served meanwhile. Eight megabytes of it held the event loop for seconds.
    const body = `{"query":"{ stages { key } }"}${' '.repeat(8 * 1024 * 1024)}`;
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const response = await fetch(`${lifeline.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${managerToken}` },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const answer: unknown = await response.json();
    delay.disable();
    expect(response.status).toBe(200);
    expect(answer).toMatchObject({ data: { stages: expect.arrayContaining([{ key: 'onboarding' }]) } });
    expect(delay.max / 1e6).toBeLessThan(1_000);
  });

  it('the CRM webhook refuses a body over its bound with 413, declared or chunked', async () => {
    const total = CRM_WEBHOOK_BODY_LIMIT * 50;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = { [CRM_TIMESTAMP_HEADER]: timestamp, [CRM_SIGNATURE_HEADER]: 'v1=00' };
    const declared = await postRaw(`${lifeline.url}/webhooks/crm`, { headers, total, declareLength: true });
    expect(declared.status).toBe(413);
    expect(declared.sent).toBeLessThan(total / 2);
    const chunked = await postRaw(`${lifeline.url}/webhooks/crm`, { headers, total });
    expect(chunked.status).toBe(413);
    expect(chunked.sent).toBeLessThan(total / 2);
    expect(JSON.parse(chunked.text)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/one deal per request/) } });
    await expectStillServing();
  });

  it("local mode's stand-in for the Slack Web API refuses a body over its bound with 413, declared or chunked", async () => {
    const local = await startLifeline({ config: parseConfig({ PORT: '0' }), database, logger, host: '127.0.0.1', printLocal: () => {} });
    try {
      const total = LOCAL_SLACK_BODY_LIMIT * 50;
      const url = `${local.url}/local-slack/api/chat.postMessage`;
      const declared = await postRaw(url, { total, declareLength: true });
      expect(declared.status).toBe(413);
      expect(declared.sent).toBeLessThan(total / 2);
      const chunked = await postRaw(url, { total });
      expect(chunked.status).toBe(413);
      expect(chunked.sent).toBeLessThan(total / 2);
      expect(local.localSlack?.calls).toEqual([]);
    } finally {
      await local.close();
    }
  });
});

describe('no Slack request, signed or not, can take the process down', () => {
  async function signedSlackPost(body: string, contentType: string) {
    const response = await fetch(`${lifeline.url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...signSlackRequest(SIGNING_SECRET, body) },
      body,
      signal: AbortSignal.timeout(5_000),
    });
    return { status: response.status, text: await response.text() };
  }

  for (const shape of ['null', '1', '"x"', '[]']) {
    it(`a signed JSON body of ${shape} is answered 400 with the reason, and GraphQL still works`, async () => {
      const response = await signedSlackPost(shape, 'application/json');
      expect(response.status).toBe(400);
      expect(response.text).toMatch(/not the JSON object every Slack request is/);
      await expectStillServing();
    });

    it(`a signed form whose payload= is ${shape} is answered 400 with the reason, and GraphQL still works`, async () => {
      const response = await signedSlackPost(`payload=${encodeURIComponent(shape)}`, 'application/x-www-form-urlencoded');
      expect(response.status).toBe(400);
      expect(response.text).toMatch(/not the JSON object every Slack request is/);
      await expectStillServing();
    });
  }

  for (const body of ['{"type":"block_suggestion"}', '{"type":"view_submission","user":{"id":"U1"}}']) {
    it(`a signed ${body} that Bolt could not route is answered 400 naming what is missing, as JSON and as a form`, async () => {
      const asJson = await signedSlackPost(body, 'application/json');
      expect(asJson.status).toBe(400);
      expect(asJson.text).toMatch(/has no (user\.id|view\.id)/);
      const asForm = await signedSlackPost(`payload=${encodeURIComponent(body)}`, 'application/x-www-form-urlencoded');
      expect(asForm.status).toBe(400);
      await expectStillServing();
    });
  }

  it('a slash command searching for text with a NUL character tells the person why, and logs nothing at error level', async () => {
    await createUser(database.db, { role: 'csm', name: 'Nora Search', slackUserId: 'UNULSEARCH' });
    const before = logLines.length;
    const answeredBefore = fake.callsTo('response_url').length;
    const responseUrl = fake.responseUrl('nul-search');
    const body = new URLSearchParams(
      Object.entries(slashCommand({ text: 'account Acme\u0000', user_id: 'UNULSEARCH', response_url: responseUrl })).map(([key, value]) => [key, String(value)]),
    ).toString();
    const response = await signedSlackPost(body, 'application/x-www-form-urlencoded');
    expect(response.status).toBe(200);
    const answers = await fake.waitForCalls('response_url', answeredBefore + 1);
    const told = answers.find((call) => call.responseId === 'nul-search');
    expect(String(told?.body.text)).toMatch(/NUL character/);
    expect(logLines.slice(before).filter((line) => line.level >= ERROR_LEVEL)).toEqual([]);
  });

  it('a signed body that is not JSON at all is answered 400', async () => {
    const response = await signedSlackPost('{"type": "event_callback", ', 'application/json');
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/not valid JSON or form data/);
    await expectStillServing();
  });

  it('a failure inside the receiver itself is answered and logged at error level, never left unhandled', async () => {
    const receiver = new SlackReceiver({ signingSecret: SIGNING_SECRET, logger: boltLogger(logger), dispatchConcurrency: 1 });
    // A response that has already been started makes the receiver's own answer throw: the kind of failure that
    // used to escape as an unhandled rejection.
    const server: Server = createServer((req, res) => {
      res.writeHead(202);
      receiver.requestListener(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`, {
        method: 'POST',
        body: '{}',
        signal: AbortSignal.timeout(5_000),
      });
      expect(response.status).toBe(202);
      await response.text();
      const failure = logLines.find((line) => line.level === ERROR_LEVEL && /A Slack request failed unexpectedly/.test(line.msg ?? ''));
      expect(failure?.msg).toMatch(/ERR_HTTP_HEADERS_SENT|Cannot write headers/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('CORS: only configured origins may call the API from a browser', () => {
  it('a page from a foreign origin gets no CORS headers, and its preflight is not allowed', async () => {
    const response = await graphql('{ stages { key } }', {}, { origin: 'https://evil.example' });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    const preflight = await fetch(`${lifeline.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-headers')).toBeNull();
  });

  it('a page from a configured origin is allowed, with credentials', async () => {
    const response = await graphql('{ stages { key } }', {}, { origin: DASHBOARD_ORIGIN });
    expect(response.headers.get('access-control-allow-origin')).toBe(DASHBOARD_ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    const preflight = await fetch(`${lifeline.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: DASHBOARD_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe(DASHBOARD_ORIGIN);
  });

  it('GraphiQL served by Lifeline itself still works: a same-origin request needs no CORS header', async () => {
    const response = await graphql('{ stages { key } }', {}, { origin: lifeline.url });
    expect(response.status).toBe(200);
    expect(response.body.data?.stages).toEqual(expect.arrayContaining([{ key: 'onboarding' }]));
  });
});

describe('a NUL character in any input is refused as bad input naming the field', () => {
  const MOVE = /* GraphQL */ `
    mutation Move($input: MoveAccountStageInput!) {
      moveAccountStage(input: $input) { account { version } }
    }
  `;
  const UPSERT = /* GraphQL */ `
    mutation Upsert($accounts: [UpsertAccountInput!]!) {
      upsertAccounts(accounts: $accounts) { created updated }
    }
  `;

  function expectNulRefused(response: Awaited<ReturnType<typeof graphql>>, field: string): void {
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(response.body.errors?.[0]?.message).toMatch(new RegExp(`^${field.replace(/[.[\]$]/g, '\\$&')} contains a NUL character .*Remove it`));
  }

  it('moveAccountStage: a reason with NUL, as a variable or written in the document, moves nothing', async () => {
    const account = await createAccount(database.db, { stageKey: 'implementation' });
    const byVariable = await graphql(MOVE, { input: { accountId: account.id, toStage: 'onboarding', expectedVersion: 1, reason: 'rolled\u0000back' } });
    expectNulRefused(byVariable, 'input.reason');
    const literal = `mutation { moveAccountStage(input: { accountId: "${account.id}", toStage: "onboarding", expectedVersion: 1, reason: "rolled\\u0000back" }) { account { version } } }`;
    expectNulRefused(await graphql(literal), 'input.reason');
    const [row] = await database.db.select().from(accounts).where(eq(accounts.id, account.id));
    expect(row).toMatchObject({ stageKey: 'implementation', version: 1 });
    expect(await database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, account.id))).toHaveLength(1);
  });

  it('upsertAccounts: a name with NUL in the second row of the list, as a variable or a literal, names that row', async () => {
    const good = { externalId: 'nul-good-1', name: 'Good Row', segment: 'smb', arrCents: 100_000 };
    const bad = { externalId: 'nul-bad-1', name: 'Bad\u0000Row', segment: 'smb', arrCents: 100_000 };
    expectNulRefused(await graphql(UPSERT, { accounts: [good, bad] }), 'accounts[1].name');
    const literal = `mutation { upsertAccounts(accounts: [{ externalId: "nul-good-2", name: "Good", segment: smb, arrCents: 1 }, { externalId: "nul-bad-2", name: "Bad\\u0000Row", segment: smb, arrCents: 1 }]) { created } }`;
    expectNulRefused(await graphql(literal), 'accounts[1].name');
    // A variable inside a literal list is named by its place in the argument.
    const mixed = `mutation ($name: String!) { upsertAccounts(accounts: [{ externalId: "nul-good-3", name: $name, segment: smb, arrCents: 1 }]) { created } }`;
    expectNulRefused(await graphql(mixed, { name: 'x\u0000' }), 'accounts[0].name');
    const created = await database.db.select().from(accounts).where(sql`${accounts.externalId} like 'nul-%'`);
    expect(created).toEqual([]);
  });

  it('recordTicket: a subject with NUL, by literal or variable, records nothing', async () => {
    const account = await createAccount(database.db, { stageKey: 'onboarding' });
    const literal = `mutation { recordTicket(accountId: "${account.id}", severity: high, subject: "Login\\u0000fails", openedAt: "2026-11-20T09:00:00Z") { id } }`;
    expectNulRefused(await graphql(literal), 'subject');
    const byVariable = `mutation ($subject: String!) { recordTicket(accountId: "${account.id}", severity: high, subject: $subject, openedAt: "2026-11-20T09:00:00Z") { id } }`;
    expectNulRefused(await graphql(byVariable, { subject: '\u0000' }), 'subject');
    expect(await database.db.select().from(tickets).where(eq(tickets.accountId, account.id))).toEqual([]);
  });

  it('a read with NUL in a filter is refused the same way instead of failing as an internal error', async () => {
    const response = await graphql('query ($filter: AccountFilter) { accounts(filter: $filter) { totalCount } }', { filter: { search: 'a\u0000' } });
    expectNulRefused(response, 'filter.search');
  });

  it('the CRM webhook answers 400 naming the field, instead of a 500', async () => {
    const body = JSON.stringify({
      opportunityId: 'opp-nul-1',
      closedWonAt: '2026-11-24T16:00:00Z',
      account: { externalId: 'acct-nul-1', name: 'Nul\u0000Corp', segment: 'smb', arrCents: 100_000 },
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const response = await fetch(`${lifeline.url}/webhooks/crm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [CRM_TIMESTAMP_HEADER]: String(timestamp), [CRM_SIGNATURE_HEADER]: signCrmWebhook(CRM_SECRET, timestamp, body) },
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'BAD_USER_INPUT', field: 'account.name', message: expect.stringMatching(/^account\.name contains a NUL character/) } });
    expect(logLines.filter((line) => line.level >= ERROR_LEVEL)).toEqual([]);
  });
});

describe('logs: a client mistake is not an error for the operator', () => {
  it('FORBIDDEN, BAD_USER_INPUT, QUERY_TOO_COMPLEX, STALE_VERSION and UNAUTHENTICATED answers log nothing at error level and no stack', async () => {
    const account = await createAccount(database.db, { stageKey: 'onboarding' });
    const stranger = await createUser(database.db, { role: 'csm' });
    const strangerToken = await createToken(database.db, 'csm', stranger);
    const forbidden = await fetch(`${lifeline.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${strangerToken}` },
      body: JSON.stringify({
        query: 'mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { account { version } } }',
        variables: { input: { accountId: account.id, toStage: 'implementation', expectedVersion: 1 } },
      }),
    });
    expect(((await forbidden.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('FORBIDDEN');
    const badInput = await graphql('mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { account { version } } }', {
      input: { accountId: account.id, toStage: 'no-such-stage', expectedVersion: 1 },
    });
    expect(badInput.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const costly = await graphql('{ accounts(first: 100) { edges { node { transitions(first: 100) { id actor { name } toStage { name } } } } } }');
    expect(costly.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    await graphql('mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { account { version } } }', {
      input: { accountId: account.id, toStage: 'implementation', expectedVersion: 1 },
    });
    const stale = await graphql('mutation ($input: MoveAccountStageInput!) { moveAccountStage(input: $input) { account { version } } }', {
      input: { accountId: account.id, toStage: 'early_adoption', expectedVersion: 1 },
    });
    expect(stale.body.errors?.[0]?.extensions?.code).toBe('STALE_VERSION');
    const unauthenticated = await graphql('{ stages { key } }', {}, { authorization: 'Bearer not-a-real-token-at-all' });
    expect(unauthenticated.status).toBe(401);

    expect(logLines.filter((line) => line.level >= ERROR_LEVEL)).toEqual([]);
    expect(JSON.stringify(logLines)).not.toMatch(/"stack"|\n\s+at /);
    // Still visible when someone looks: at debug, with the code.
    expect(logLines).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'FORBIDDEN', msg: 'graphql request refused' })]));
  });

  it('an unexpected failure is still logged at error level, with its stack', async () => {
    const broken = await createTestDatabase();
    try {
      await broken.db.execute(sql`drop table lifecycle_stages cascade`);
      const yoga = createGraphqlServer({ db: broken.db, logger, bootstrapAdminToken: 'bootstrap-admin-token-0123456789' });
      const response = await yoga.fetch('http://lifeline.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bootstrap-admin-token-0123456789' },
        body: JSON.stringify({ query: '{ stages { key } }' }),
      });
      expect(((await response.json()) as { errors: { message: string }[] }).errors[0]?.message).toBe('Unexpected error.');
      const errors = logLines.filter((line) => line.level >= ERROR_LEVEL);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.err?.stack).toMatch(/lifecycle_stages/);
    } finally {
      await broken.destroy();
    }
  });

  it('in Slack, a refusal answered to the person (not linked) is not logged at error level', async () => {
    const answeredBefore = fake.callsTo('response_url').length;
    const responseUrl = fake.responseUrl('unlinked-log-check');
    const body = new URLSearchParams(
      Object.entries(slashCommand({ text: 'account Anything', user_id: 'UNOBODYLOG', response_url: responseUrl })).map(([key, value]) => [key, String(value)]),
    ).toString();
    const response = await fetch(`${lifeline.url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...signSlackRequest(SIGNING_SECRET, body) },
      body,
    });
    expect(response.status).toBe(200);
    const replies = await fake.waitForCalls('response_url', answeredBefore + 1);
    const reply = replies.find((call) => call.responseId === 'unlinked-log-check');
    expect(String(reply?.body.text)).toMatch(/not linked to Lifeline/);
    expect(logLines.filter((line) => line.level >= ERROR_LEVEL)).toEqual([]);
  });
});

describe('logs: refused Slack requests cannot flood them', () => {
  it('a hundred forged Slack requests add at most one warn-level line, which counts the others', async () => {
    const before = logLines.length;
    const WARN_LEVEL = 40;
    const forged = 100;
    for (let i = 0; i < forged; i += 1) {
      const response = await fetch(`${lifeline.url}/slack/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)), 'x-slack-signature': `v0=${'0'.repeat(64)}` },
        body: JSON.stringify({ type: 'event_callback', n: i }),
      });
      expect(response.status).toBe(401);
    }
    const lines = logLines.slice(before).filter((line) => /Refused a Slack request/.test(String(line.msg)));
    // Every refusal is still logged, most of them at debug.
    expect(lines).toHaveLength(forged);
    const warnings = lines.filter((line) => line.level >= WARN_LEVEL);
    expect(warnings.length).toBeLessThanOrEqual(1);
  });
});
