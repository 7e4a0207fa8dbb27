import { type Server, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRM_SIGNATURE_HEADER, CRM_TIMESTAMP_HEADER, CRM_WEBHOOK_BODY_LIMIT, handleCrmWebhook, signCrmWebhook } from '../api/webhooks/crm.ts';
import { type User, accounts, handoffs, revenueChanges } from '../db/schema.ts';
import { useTestDatabase } from './support/database.ts';
import { createUser } from './support/factories.ts';
import { silentLogger } from './support/graphql.ts';

const SECRET = 'crm-webhook-secret-0123456789abcdef';
const database = useTestDatabase();
let server: Server;
let url: string;
let ae: User;

beforeAll(async () => {
  ae = await createUser(database.db, { role: 'ae', email: 'tom@acme-sales.example' });
  server = createServer((req, res) => void handleCrmWebhook(req, res, { db: database.db, secret: SECRET, logger: silentLogger }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/crm`;
});
afterAll(async () => {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
});

function deal(opportunityId: string) {
  return {
    opportunityId,
    closedWonAt: '2026-11-24T16:00:00Z',
    account: { externalId: `acct-${opportunityId}`, name: `Webhook ${opportunityId}`, segment: 'enterprise', arrCents: 24_000_000, contractEnd: '2027-11-30' },
    aeEmail: 'TOM@acme-sales.example',
    context: { goals: 'Consolidate three tools', promises: 'Salesforce sync by January' },
  };
}

async function post(body: string, options: { secret?: string; timestamp?: number } = {}) {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [CRM_TIMESTAMP_HEADER]: String(timestamp),
      [CRM_SIGNATURE_HEADER]: signCrmWebhook(options.secret ?? SECRET, timestamp, body),
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('POST /webhooks/crm', () => {
  it('a signed closed-won creates the handoff (201), and the same opportunity again changes nothing (200)', async () => {
    const body = JSON.stringify(deal('opp-w1'));
    const first = await post(body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ created: true });
    const [handoff] = await database.db.select().from(handoffs).where(eq(handoffs.opportunityId, 'opp-w1'));
    expect(handoff).toMatchObject({ aeId: ae.id, status: 'pending', goals: 'Consolidate three tools' });
    const again = await post(body);
    expect(again).toEqual({
      status: 200,
      body: { kind: 'new_customer', handoffId: handoff?.id, accountId: handoff?.accountId, revenueChangeId: null, created: false },
    });
  });

  it("an existing customer's expansion deal keeps the account as it is, makes no handoff, and records the expansion once", async () => {
    const first = await post(JSON.stringify(deal('opp-w10')));
    const accountId = String(first.body.accountId);
    // The CRM sends the next deal of the same account: a new opportunity, more ARR, and its own name for it.
    const expansion = { ...deal('opp-w11'), account: { ...deal('opp-w10').account, name: 'Renamed by the CRM', arrCents: 36_000_000 } };
    const recorded = await post(JSON.stringify(expansion));
    expect(recorded).toMatchObject({ status: 201, body: { kind: 'expansion', handoffId: null, accountId, created: true } });
    const again = await post(JSON.stringify(expansion));
    expect(again).toEqual({ status: 200, body: { ...recorded.body, created: false } });
    const [account] = await database.db.select().from(accounts).where(eq(accounts.id, accountId));
    expect(account).toMatchObject({ name: 'Webhook opp-w10', stageKey: 'onboarding', arrCents: 36_000_000 });
    expect(await database.db.select().from(handoffs).where(eq(handoffs.accountId, accountId))).toHaveLength(1);
    const ledger = await database.db.select().from(revenueChanges).where(eq(revenueChanges.accountId, accountId));
    // The first deal's ARR never reached the ledger (no billing feed here): the expansion deal's MRR is its first entry.
    expect(ledger.map((row) => [row.kind, row.mrrDeltaCents, row.externalId, row.id])).toEqual([['new', 3_000_000, 'opportunity:opp-w11', recorded.body.revenueChangeId]]);
  });

  it('refuses a wrong signature, a tampered body and a replayed old request with 401', async () => {
    const body = JSON.stringify(deal('opp-w2'));
    const wrongSecret = await post(body, { secret: 'not-the-shared-secret-at-all-000' });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const timestamp = Math.floor(Date.now() / 1000);
    const tampered = await fetch(url, {
      method: 'POST',
      headers: { [CRM_TIMESTAMP_HEADER]: String(timestamp), [CRM_SIGNATURE_HEADER]: signCrmWebhook(SECRET, timestamp, body) },
      body: body.replace('24000000', '1'),
    });
    expect(tampered.status).toBe(401);
    const replayed = await post(body, { timestamp: timestamp - 3600 });
    expect(replayed.status).toBe(401);
    expect(JSON.stringify(replayed.body)).toMatch(/stale x-lifeline-timestamp/);
    expect(await database.db.select().from(handoffs).where(eq(handoffs.opportunityId, 'opp-w2'))).toEqual([]);
  });

  it('explains bad input with the field: an unknown AE email, an unknown segment', async () => {
    const unknownAe = await post(JSON.stringify({ ...deal('opp-w3'), aeEmail: 'nobody@example.test' }));
    expect(unknownAe).toMatchObject({ status: 400, body: { error: { code: 'BAD_USER_INPUT', field: 'aeEmail' } } });
    const badSegment = await post(JSON.stringify({ ...deal('opp-w4'), account: { ...deal('opp-w4').account, segment: 'huge' } }));
    expect(badSegment).toMatchObject({ status: 400, body: { error: { code: 'BAD_USER_INPUT', field: 'account.segment' } } });
  });

  it('refuses a NUL character as bad input naming the field, instead of failing with a 500', async () => {
    const withNul = await post(JSON.stringify({ ...deal('opp-w5'), context: { goals: 'Consolidate\u0000tools' } }));
    expect(withNul).toMatchObject({ status: 400, body: { error: { code: 'BAD_USER_INPUT', field: 'context.goals' } } });
    expect(JSON.stringify(withNul.body)).toMatch(/context\.goals contains a NUL character.*Remove it/);
    expect(await database.db.select().from(handoffs).where(eq(handoffs.opportunityId, 'opp-w5'))).toEqual([]);
  });

  it('refuses a body over its bound with 413, also when it comes chunked with no Content-Length', async () => {
    const declared = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(CRM_WEBHOOK_BODY_LIMIT + 1) });
    expect(declared.status).toBe(413);
    // With no Content-Length, Node's client sends the body chunked; the handler stops reading once the bound is passed.
    const chunked = await new Promise<{ status: number; json(): unknown }>((resolve, reject) => {
      const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, json: () => JSON.parse(Buffer.concat(parts).toString('utf8')) }));
      });
      request.on('error', reject);
      for (let index = 0; index < 3; index += 1) request.write(Buffer.alloc(CRM_WEBHOOK_BODY_LIMIT / 2, 0x20));
      request.end();
    });
    expect(chunked.status).toBe(413);
    expect(chunked.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/one deal per request/) } });
  });

  it('answers 404 with what to set when no secret is configured', async () => {
    const unconfigured = createServer((req, res) => void handleCrmWebhook(req, res, { db: database.db, secret: undefined, logger: silentLogger }));
    await new Promise<void>((resolve) => unconfigured.listen(0, '127.0.0.1', resolve));
    const port = (unconfigured.address() as AddressInfo).port;
    const response = await fetch(`http://127.0.0.1:${port}/webhooks/crm`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect(await response.text()).toMatch(/set CRM_WEBHOOK_SECRET/);
    await new Promise<void>((resolve) => unconfigured.close(() => resolve()));
  });
});
