import { and, asc, eq, sql } from 'drizzle-orm';
import { actorFromUser } from '../domain/actors.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../db/client.ts';
import { type Account, type User, accounts, handoffs, outbox, renewals, revenueChanges, stageTransitions } from '../db/schema.ts';
import { seedDemoBook } from '../demo/book.ts';
import { getBook } from '../domain/accounts/book.ts';
import { type RecordClosedWonParams, recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { DEMO_BOOK_TIMEOUT, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { signCrmWebhook, CRM_SIGNATURE_HEADER, CRM_TIMESTAMP_HEADER } from '../api/webhooks/crm.ts';
import { type SlackHarness, startSlackHarness } from './support/slack-harness.ts';

const crm = { userId: null, role: 'integration', label: 'CRM' } as const;
const database = useTestDatabase();
let ae: User;
let csm: User;
let otherAe: User;
let otherCsm: User;
let sequence = 0;

beforeAll(async () => {
  ae = await createUser(database.db, { role: 'ae', name: 'Tom Becker' });
  csm = await createUser(database.db, { role: 'csm', name: 'Sam Okafor' });
  otherAe = await createUser(database.db, { role: 'ae', name: 'Grace Kim' });
  otherCsm = await createUser(database.db, { role: 'csm', name: 'Lena Fischer' });
});

/** The test factory makes accounts without a CRM id; closed-won finds accounts by theirs. */
async function withCrmId(account: Account, externalId: string): Promise<Account> {
  const [updated] = await database.db.update(accounts).set({ externalId }).where(eq(accounts.id, account.id)).returning();
  if (!updated) throw new Error(`Account ${account.id} vanished`);
  return updated;
}

/** A customer in Mature adoption with 1,000.00 MRR since 2026-01-01 and a contract to 2026-12-31. */
async function existingCustomer(name: string): Promise<Account> {
  sequence += 1;
  const created = await createAccount(database.db, {
    name,
    stageKey: 'mature_adoption',
    arrCents: 1_200_000,
    csmId: csm.id,
    aeId: ae.id,
    contractStart: '2026-01-01',
    contractEnd: '2026-12-31',
  });
  const account = await withCrmId(created, `existing-${sequence}`);
  await recordRevenueChange(database.db, { accountId: account.id, kind: 'new', mrrDeltaCents: 100_000, effectiveDate: '2026-01-01', externalId: `inv-${sequence}`, actor: crm });
  return account;
}

function deal(account: Account, overrides: Partial<RecordClosedWonParams['account']> & { opportunityId?: string } = {}): RecordClosedWonParams {
  const { opportunityId, ...accountOverrides } = overrides;
  return {
    opportunityId: opportunityId ?? `deal-${account.externalId}-${++sequence}`,
    // What a CRM sends on every deal: its own name for the account and the rep who sold this deal.
    account: { externalId: account.externalId ?? '', name: `${account.name} (CRM name)`, segment: 'enterprise', arrCents: 1_800_000, ...accountOverrides },
    aeId: otherAe.id,
    csmId: otherCsm.id,
    closedWonAt: new Date('2026-11-20T10:00:00Z'),
    context: { goals: 'Add the analytics module' },
    actor: crm,
  };
}

async function ledgerOf(accountId: string) {
  const rows = await database.db.select().from(revenueChanges).where(eq(revenueChanges.accountId, accountId)).orderBy(asc(revenueChanges.effectiveDate));
  return rows.map((row) => [row.kind, row.mrrDeltaCents, row.effectiveDate, row.externalId]);
}

async function handoffRowsOf(accountId: string) {
  return database.db.select().from(handoffs).where(eq(handoffs.accountId, accountId));
}

async function handoffMessagesOf(accountId: string) {
  const rows = await database.db.select().from(outbox).where(eq(outbox.kind, 'handoff'));
  const ids = new Set((await handoffRowsOf(accountId)).map((row) => row.id));
  return rows.filter((row) => ids.has(String(row.payload.handoffId)));
}

describe("closed-won of a customer Lifeline already has", () => {
  it('keeps its stage, name, CSM and AE, creates no handoff or message, and records the ARR increase as an expansion', async () => {
    const account = await existingCustomer('Expanding Co');
    const params = deal(account, { arrCents: 1_800_000 });
    const result = await recordClosedWon(database.db, params);
    expect(result).toMatchObject({ kind: 'expansion', handoff: null, created: true });
    expect(result.account).toMatchObject({ stageKey: 'mature_adoption', name: 'Expanding Co', csmId: csm.id, aeId: ae.id, arrCents: 1_800_000, version: 1 });
    expect(result.revenueChange).toMatchObject({ kind: 'expansion', mrrDeltaCents: 50_000 });
    expect(await handoffRowsOf(account.id)).toEqual([]);
    expect(await handoffMessagesOf(account.id)).toEqual([]);
    const history = await database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, account.id));
    expect(history.map((row) => row.toStage)).toEqual(['mature_adoption']);
    expect(await ledgerOf(account.id)).toEqual([
      ['new', 100_000, '2026-01-01', expect.any(String)],
      ['expansion', 50_000, '2026-11-20', `opportunity:${params.opportunityId}`],
    ]);
  });

  it('a lower ARR is a contraction, and replaying the same opportunity changes nothing and answers the same', async () => {
    const account = await existingCustomer('Shrinking Co');
    const params = deal(account, { arrCents: 900_000 });
    const first = await recordClosedWon(database.db, params);
    expect(first).toMatchObject({ kind: 'contraction', handoff: null, created: true, revenueChange: { kind: 'contraction', mrrDeltaCents: -25_000 } });
    const before = await database.db.select().from(accounts).where(eq(accounts.id, account.id));
    const again = await recordClosedWon(database.db, { ...params, account: { ...params.account, arrCents: 5_000_000, contractEnd: '2030-01-01' } });
    expect(again).toMatchObject({ kind: 'contraction', handoff: null, created: false, revenueChange: { id: first.revenueChange?.id, mrrDeltaCents: -25_000 } });
    expect(await database.db.select().from(accounts).where(eq(accounts.id, account.id))).toEqual(before);
    expect(await ledgerOf(account.id)).toHaveLength(2);
    expect(await database.db.select().from(renewals).where(eq(renewals.accountId, account.id))).toEqual([]);
  });

  it('a renewal deal extends the contract, closes the current renewal as renewed and opens the next one', async () => {
    const account = await existingCustomer('Renewing Co');
    await database.db.insert(renewals).values({ accountId: account.id, contractEnd: '2026-12-31', windowOpensOn: '2026-10-02', status: 'open' });
    const result = await recordClosedWon(database.db, {
      ...deal(account, { arrCents: 1_200_000, contractStart: '2027-01-01', contractEnd: '2027-12-31' }),
      renewalWindowDays: 45,
    });
    expect(result).toMatchObject({ kind: 'renewal', handoff: null, revenueChange: null, created: true });
    expect(result.account).toMatchObject({ stageKey: 'mature_adoption', contractStart: '2027-01-01', contractEnd: '2027-12-31', arrCents: 1_200_000 });
    const rows = await database.db.select().from(renewals).where(eq(renewals.accountId, account.id)).orderBy(asc(renewals.contractEnd));
    expect(rows.map((row) => [row.contractEnd, row.windowOpensOn, row.status])).toEqual([
      ['2026-12-31', '2026-10-02', 'renewed'],
      ['2027-12-31', '2027-11-16', 'upcoming'],
    ]);
    expect(rows[0]?.outcome).toMatch(/^Renewed by opportunity deal-/);
    expect(await handoffRowsOf(account.id)).toEqual([]);
  });

  it('a renewal with an uplift records the uplift from the new term on', async () => {
    const account = await existingCustomer('Uplift Co');
    const result = await recordClosedWon(database.db, deal(account, { arrCents: 1_320_000, contractStart: '2027-01-01', contractEnd: '2027-12-31' }));
    expect(result).toMatchObject({ kind: 'renewal', revenueChange: { kind: 'expansion', mrrDeltaCents: 10_000, effectiveDate: '2027-01-01' } });
  });

  it('a churned customer who signs again is recorded as a reactivation and stays where a person put it', async () => {
    const account = await existingCustomer('Returning Co');
    await recordRevenueChange(database.db, { accountId: account.id, kind: 'churn', mrrDeltaCents: -100_000, effectiveDate: '2026-06-01', actor: crm });
    await database.db.update(accounts).set({ stageKey: 'churned' }).where(eq(accounts.id, account.id));
    const result = await recordClosedWon(database.db, deal(account, { arrCents: 600_000 }));
    expect(result).toMatchObject({ kind: 'reactivation', handoff: null, account: { stageKey: 'churned' }, revenueChange: { kind: 'reactivation', mrrDeltaCents: 50_000 } });
  });

  it('an account that only exists in Pre-onboarding (imported, never a customer) is still a new customer', async () => {
    const prospect = await withCrmId(await createAccount(database.db, { name: 'Prospect Co', stageKey: 'pre_onboarding', aeId: ae.id }), 'prospect-1');
    const result = await recordClosedWon(database.db, deal(prospect, { opportunityId: 'prospect-opp' }));
    expect(result.kind).toBe('new_customer');
    expect(result.handoff).toMatchObject({ opportunityId: 'prospect-opp', status: 'pending' });
    expect(result.account).toMatchObject({ stageKey: 'onboarding', version: 2 });
    expect(await handoffMessagesOf(prospect.id)).toHaveLength(1);
  });

  it('through GraphQL the payload says what the deal was, with no handoff for an existing customer', async () => {
    const harness = await startSlackHarness({ database });
    try {
      const account = await existingCustomer('Graph Expansion Co');
      const token = await createToken(database.db, 'integration');
      const response = await fetch(`${harness.lifeline.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: `mutation ($input: RecordClosedWonInput!) { recordClosedWon(input: $input) { kind created handoff { id } account { name stage { key } csm { name } } revenueChange { kind mrrDeltaCents externalId } } }`,
          variables: {
            input: {
              opportunityId: 'gql-expansion-1',
              account: { externalId: account.externalId, name: 'Renamed by CRM', segment: 'smb', arrCents: 2_400_000 },
              aeId: otherAe.id,
              csmId: otherCsm.id,
              closedWonAt: '2026-11-20T10:00:00Z',
            },
          },
        }),
      });
      expect(await response.json()).toEqual({
        data: {
          recordClosedWon: {
            kind: 'expansion',
            created: true,
            handoff: null,
            account: { name: 'Graph Expansion Co', stage: { key: 'mature_adoption' }, csm: { name: 'Sam Okafor' } },
            revenueChange: { kind: 'expansion', mrrDeltaCents: 100_000, externalId: 'opportunity:gql-expansion-1' },
          },
        },
      });
    } finally {
      await harness.close();
    }
  });
});

describe('the revenue ledger refuses movements that cannot happen', () => {
  async function freshAccount(name: string) {
    return createAccount(database.db, { name, stageKey: 'mature_adoption' });
  }
  const record = (accountId: string, kind: 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation', mrrDeltaCents: number, effectiveDate: string, externalId?: string) =>
    recordRevenueChange(database.db, { accountId, kind, mrrDeltaCents, effectiveDate, actor: crm, ...(externalId ? { externalId } : {}) });

  it('names the kind to record instead, for each impossible movement', async () => {
    const none = await freshAccount('Ledger None');
    await expect(record(none.id, 'expansion', 500, '2026-03-01')).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'This expansion cannot be recorded for Ledger None: the account has no MRR on 2026-03-01; record it as new business (kind new) instead.',
    });
    await expect(record(none.id, 'reactivation', 500, '2026-03-01')).rejects.toThrow(/never had MRR before 2026-03-01; record it as new business \(kind new\) instead/);

    const paying = await freshAccount('Ledger Paying');
    await record(paying.id, 'new', 1000, '2026-01-01');
    await expect(record(paying.id, 'new', 500, '2026-03-01')).rejects.toThrow('already has 1000 cents of MRR on 2026-03-01; record an expansion instead');
    await expect(record(paying.id, 'reactivation', 500, '2026-03-01')).rejects.toThrow('already has 1000 cents of MRR on 2026-03-01; record an expansion instead');
    await expect(record(paying.id, 'contraction', -1500, '2026-03-01')).rejects.toThrow(/would take MRR below zero on 2026-03-01 \(MRR is 1000 cents\)/);
    await expect(record(paying.id, 'contraction', -1000, '2026-03-01')).rejects.toThrow('brings MRR from 1000 cents to zero on 2026-03-01: that is a churn; record a churn instead');
    await expect(record(paying.id, 'churn', -400, '2026-03-01')).rejects.toThrow('a churn brings MRR to zero, and MRR is 1000 cents on 2026-03-01: send mrrDeltaCents -1000');
    await expect(record(paying.id, 'expansion', 500, '2025-12-31')).rejects.toThrow('the account has no MRR on 2025-12-31; record it as new business (kind new) instead');

    await record(paying.id, 'churn', -1000, '2026-03-01');
    await expect(record(paying.id, 'expansion', 500, '2026-04-01')).rejects.toThrow(
      'This expansion cannot be recorded for Ledger Paying: the account has no MRR on 2026-04-01; record a reactivation instead.',
    );
    await expect(record(paying.id, 'new', 500, '2026-04-01')).rejects.toThrow(/record a reactivation instead/);
    await record(paying.id, 'reactivation', 800, '2026-04-01');
    expect(await ledgerOf(paying.id)).toEqual([
      ['new', 1000, '2026-01-01', null],
      ['churn', -1000, '2026-03-01', null],
      ['reactivation', 800, '2026-04-01', null],
    ]);
  });

  it('a back-dated movement that makes a later one impossible is refused and nothing is written', async () => {
    const account = await freshAccount('Ledger Timeline');
    await record(account.id, 'new', 1000, '2026-01-01');
    await record(account.id, 'expansion', 500, '2026-05-01', 'inv-exp');
    await expect(record(account.id, 'churn', -1000, '2026-03-01')).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message:
        'This churn of 2026-03-01 for Ledger Timeline would make the expansion of 2026-05-01 (inv-exp) impossible: the account has no MRR on 2026-05-01; record a reactivation instead. Correct that entry first, or record this one differently.',
    });
    expect(await ledgerOf(account.id)).toEqual([
      ['new', 1000, '2026-01-01', null],
      ['expansion', 500, '2026-05-01', 'inv-exp'],
    ]);
  });

  it('correcting an entry by its externalId is checked again', async () => {
    const account = await freshAccount('Ledger Correction');
    await record(account.id, 'new', 1000, '2026-01-01', 'inv-new');
    await record(account.id, 'churn', -1000, '2026-06-01', 'inv-churn');
    await expect(record(account.id, 'new', 1200, '2026-01-01', 'inv-new')).rejects.toThrow(/would make the churn of 2026-06-01 \(inv-churn\) impossible: a churn brings MRR to zero, and MRR is 1200 cents/);
    await expect(record(account.id, 'new', 1000, '2026-07-01', 'inv-new')).rejects.toThrow(/would make the churn of 2026-06-01 \(inv-churn\) impossible: the account has no MRR on 2026-06-01, so there is nothing to churn/);
    expect(await ledgerOf(account.id)).toEqual([
      ['new', 1000, '2026-01-01', 'inv-new'],
      ['churn', -1000, '2026-06-01', 'inv-churn'],
    ]);
  });

  it('two churns of the same account sent at once: one is recorded, the other refused', async () => {
    const account = await freshAccount('Ledger Race');
    await record(account.id, 'new', 1000, '2026-01-01');
    const outcomes = await Promise.allSettled([record(account.id, 'churn', -1000, '2026-03-01'), record(account.id, 'churn', -1000, '2026-03-02')]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    const [total] = await queryRows<{ mrr: number }>(database.db, sql`select sum(mrr_delta_cents)::int as mrr from revenue_changes where account_id = ${account.id}`);
    expect(total?.mrr).toBe(0);
  });

  it('the demo book writes only movements that can happen, account by account', async () => {
    const demo = await createTestDatabase();
    try {
      await seedDemoBook(demo.db, new Date('2026-11-25T09:00:00Z'));
      // Checked here on its own terms: the running MRR before each entry, in date order, against its kind.
      const impossible = await queryRows<{ account: string; kind: string; effective_date: string; before: number; delta: number; earlier: number }>(
        demo.db,
        sql`select a.name as account, l.kind::text as kind, l.effective_date::text as effective_date, l.before::int as before, l.mrr_delta_cents::int as delta, l.earlier::int as earlier
            from (
              select r.*, coalesce(sum(r.mrr_delta_cents) over w, 0) as before, count(*) over w as earlier
              from revenue_changes r
              window w as (partition by r.account_id order by r.effective_date, r.created_at, r.id rows between unbounded preceding and 1 preceding)
            ) l
            join accounts a on a.id = l.account_id
            where (l.kind = 'new' and (l.before <> 0 or l.earlier > 0))
               or (l.kind = 'reactivation' and (l.before <> 0 or l.earlier = 0))
               or (l.kind = 'expansion' and l.before <= 0)
               or (l.kind = 'contraction' and (l.before <= 0 or l.before + l.mrr_delta_cents <= 0))
               or (l.kind = 'churn' and (l.before <= 0 or l.before + l.mrr_delta_cents <> 0))`,
      );
      expect(impossible).toEqual([]);
      const kinds = await queryRows<{ kind: string }>(demo.db, sql`select distinct kind::text as kind from revenue_changes order by 1`);
      expect(kinds.map((row) => row.kind)).toEqual(['churn', 'contraction', 'expansion', 'new']);
      // The accounts onboarding now came in as new customers: each has its handoff, at every step between them.
      const onboarding = await queryRows<{ status: string }>(
        demo.db,
        sql`select h.status::text as status from handoffs h join accounts a on a.id = h.account_id where a.stage_key = 'onboarding' order by 1`,
      );
      expect(onboarding.length).toBeGreaterThanOrEqual(4);
      expect(new Set(onboarding.map((row) => row.status))).toEqual(new Set(['pending', 'confirmed', 'accepted', 'kickoff_scheduled']));
    } finally {
      await demo.destroy();
    }
  }, DEMO_BOOK_TIMEOUT);
});

describe('the configured renewal window holds on every surface', () => {
  const SECRET = 'renewal-window-webhook-secret-0123456789';
  let harness: SlackHarness;
  let token: string;
  beforeAll(async () => {
    harness = await startSlackHarness({ database, env: { LIFELINE_RENEWAL_WINDOW_DAYS: '30', CRM_WEBHOOK_SECRET: SECRET } });
    token = await createToken(database.db, 'integration');
  });
  afterAll(async () => {
    await harness?.close();
  });

  async function graphql(query: string, variables: Record<string, unknown> = {}, bearer = token) {
    const response = await fetch(`${harness.lifeline.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  }

  async function renewalOf(externalId: string, contractEnd: string) {
    const [row] = await database.db
      .select({ windowOpensOn: renewals.windowOpensOn })
      .from(renewals)
      .innerJoin(accounts, eq(accounts.id, renewals.accountId))
      .where(and(eq(accounts.externalId, externalId), eq(renewals.contractEnd, contractEnd)));
    return row?.windowOpensOn;
  }

  it('accounts imported with upsertAccounts', async () => {
    await graphql('mutation ($accounts: [UpsertAccountInput!]!) { upsertAccounts(accounts: $accounts) { created } }', {
      accounts: [{ externalId: 'window-import', name: 'Window Import', segment: 'smb', arrCents: 100, contractEnd: '2027-06-30' }],
    });
    expect(await renewalOf('window-import', '2027-06-30')).toBe('2027-05-31');
  });

  it('a new customer closed-won through GraphQL', async () => {
    await graphql('mutation ($input: RecordClosedWonInput!) { recordClosedWon(input: $input) { kind } }', {
      input: { opportunityId: 'window-gql', account: { externalId: 'window-gql', name: 'Window GraphQL', segment: 'smb', arrCents: 100, contractEnd: '2027-06-30' }, closedWonAt: '2026-11-20T10:00:00Z' },
    });
    expect(await renewalOf('window-gql', '2027-06-30')).toBe('2027-05-31');
  });

  it('a new customer and a renewal deal through the CRM webhook', async () => {
    const post = async (payload: unknown) => {
      const body = JSON.stringify(payload);
      const timestamp = Math.floor(Date.now() / 1000);
      const response = await fetch(`${harness.lifeline.url}/webhooks/crm`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CRM_TIMESTAMP_HEADER]: String(timestamp), [CRM_SIGNATURE_HEADER]: signCrmWebhook(SECRET, timestamp, body) },
        body,
      });
      return (await response.json()) as Record<string, unknown>;
    };
    const account = { externalId: 'window-hook', name: 'Window Webhook', segment: 'smb', arrCents: 120_000, contractEnd: '2027-06-30' };
    expect(await post({ opportunityId: 'window-hook-1', closedWonAt: '2026-11-20T10:00:00Z', account })).toMatchObject({ kind: 'new_customer' });
    expect(await renewalOf('window-hook', '2027-06-30')).toBe('2027-05-31');
    const renewal = await post({ opportunityId: 'window-hook-2', closedWonAt: '2026-11-21T10:00:00Z', account: { ...account, contractEnd: '2028-06-30' } });
    expect(renewal).toMatchObject({ kind: 'renewal', handoffId: null, created: true });
    expect(await renewalOf('window-hook', '2028-06-30')).toBe('2028-05-31');
  });

  it('the renewals query lists the window by default, and the App Home book is given it', async () => {
    const now = new Date();
    const inDays = (days: number) => new Date(now.getTime() + days * 86_400_000).toISOString().slice(0, 10);
    const owner = await createUser(database.db, { role: 'csm' });
    const soon = await createAccount(database.db, { name: 'Window Soon', csmId: owner.id, contractEnd: inDays(20) });
    const later = await createAccount(database.db, { name: 'Window Later', csmId: owner.id, contractEnd: inDays(45) });
    await database.db.insert(renewals).values([
      { accountId: soon.id, contractEnd: inDays(20), windowOpensOn: inDays(-10), status: 'open' },
      { accountId: later.id, contractEnd: inDays(45), windowOpensOn: inDays(15), status: 'upcoming' },
    ]);
    const reader = await createToken(database.db, 'manager', await createUser(database.db, { role: 'manager' }));
    const listed = (await graphql('{ renewals { account { name } } }', {}, reader)) as { renewals: { account: { name: string } }[] };
    const names = listed.renewals.map((renewal) => renewal.account.name);
    expect(names).toContain('Window Soon');
    expect(names).not.toContain('Window Later');
    const book = await getBook(database.db, { reader: actorFromUser(owner), now, renewalWindowDays: 30 });
    expect(book.renewals.map((account) => account.name)).toEqual(['Window Soon']);
  });
});
