import { eq, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../db/client.ts';
import { accounts, renewals, stageTransitions } from '../db/schema.ts';
import { storedHealthOf } from './support/health.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { USAGE_CHUNK_ROWS, type UsageRowInput, checkUsageRow, recordUsage, usageRowSchema } from '../domain/signals.ts';
import { parseInput } from '../domain/validation.ts';
import { type TestDatabase, createTestDatabase, useTestDatabase } from './support/database.ts';
import { createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

const database = useTestDatabase();
let api: ReturnType<typeof createGraphqlClient>;
let integration: string;
let manager: string;

beforeAll(async () => {
  api = createGraphqlClient(database.db);
  integration = await createToken(database.db, 'integration');
  manager = await createToken(database.db, 'manager', await createUser(database.db, { role: 'manager' }));
});

const UPSERT = 'mutation ($accounts: [UpsertAccountInput!]!) { upsertAccounts(accounts: $accounts) { created updated accounts { externalId id created } } }';
const USAGE = 'mutation ($rows: [UsageDayInput!]!) { recordUsage(rows: $rows) { written } }';

function crmAccounts(count: number, prefix: string, overrides: Record<string, unknown> = {}) {
  return Array.from({ length: count }, (_, index) => ({
    externalId: `${prefix}-${index}`,
    name: `${prefix} customer ${index}`,
    segment: index % 3 === 0 ? 'enterprise' : 'smb',
    arrCents: 1_000_000 + index,
    contractEnd: '2027-06-30',
    ...overrides,
  }));
}

describe('upsertAccounts', () => {
  it('creates thousands of accounts in one call, then updates them on a repeat without touching their stage', async () => {
    const first = await api.request(UPSERT, { accounts: crmAccounts(2000, 'bulk') }, integration);
    expect(first.body.errors).toBeUndefined();
    const created = (first.body.data as { upsertAccounts: { created: number; updated: number; accounts: { id: string }[] } }).upsertAccounts;
    expect([created.created, created.updated, created.accounts.length]).toEqual([2000, 0, 2000]);

    const one = created.accounts[7]?.id ?? '';
    const history = await database.db.select().from(stageTransitions).where(eq(stageTransitions.accountId, one));
    expect(history.map((row) => [row.direction, row.toStage, row.source])).toEqual([['initial', 'pre_onboarding', 'import']]);
    const [renewal] = await database.db.select().from(renewals).where(eq(renewals.accountId, one));
    expect(renewal).toMatchObject({ contractEnd: '2027-06-30', windowOpensOn: '2027-04-01' });

    await database.db.update(accounts).set({ stageKey: 'implementation' }).where(eq(accounts.id, one));
    const again = await api.request(UPSERT, { accounts: crmAccounts(2000, 'bulk', { arrCents: 42 }) }, integration);
    const updated = (again.body.data as { upsertAccounts: { created: number; updated: number } }).upsertAccounts;
    expect([updated.created, updated.updated]).toEqual([0, 2000]);
    const [reloaded] = await database.db.select().from(accounts).where(eq(accounts.id, one));
    expect(reloaded).toMatchObject({ arrCents: 42, stageKey: 'implementation' });
    const [counts] = await queryRows<{ accounts: number; transitions: number; renewals: number }>(
      database.db,
      sql`select (select count(*)::int from accounts where external_id like 'bulk-%') as accounts,
                 (select count(*)::int from stage_transitions t join accounts a on a.id = t.account_id where a.external_id like 'bulk-%') as transitions,
                 (select count(*)::int from renewals r join accounts a on a.id = r.account_id where a.external_id like 'bulk-%') as renewals`,
    );
    expect(counts).toEqual({ accounts: 2000, transitions: 2000, renewals: 2000 });
  });

  it('names the offending row and field, and writes nothing from a bad batch', async () => {
    const batch = crmAccounts(3, 'bad');
    batch[2] = { ...batch[2], stageKey: 'golive' } as (typeof batch)[number];
    const response = await api.request(UPSERT, { accounts: batch }, integration);
    expect(response.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'accounts[2].stageKey' } });
    expect(response.body.errors?.[0]?.message).toMatch(/there is no stage "golive". Use one of:/);
    const negative = await api.request(UPSERT, { accounts: [{ externalId: 'neg', name: 'Neg', segment: 'smb', arrCents: -1 }] }, integration);
    expect(negative.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'accounts[0].arrCents' } });
    const [count] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from accounts where external_id like 'bad-%' or external_id = 'neg'`);
    expect(count?.n).toBe(0);
  });
});

describe('recordUsage', () => {
  it('writes a batch of days set-based, and re-sending a day replaces it instead of adding to it', async () => {
    await api.request(UPSERT, { accounts: crmAccounts(50, 'usage') }, integration);
    const rows = Array.from({ length: 5000 }, (_, index) => ({
      accountExternalId: `usage-${index % 50}`,
      day: new Date(Date.UTC(2026, 0, 1) + Math.floor(index / 50) * 86_400_000).toISOString().slice(0, 10),
      activeUsers: 5,
      seats: 10,
      keyEvents: 1,
    }));
    const first = await api.request(USAGE, { rows }, integration);
    expect(first.body).toEqual({ data: { recordUsage: { written: 5000 } } });
    const resent = await api.request(USAGE, { rows: [...rows.slice(0, 10).map((row) => ({ ...row, activeUsers: 9 })), { ...rows[0], activeUsers: 7 }] }, integration);
    // The repeated account-day in one call counts once; the last value wins.
    expect(resent.body).toEqual({ data: { recordUsage: { written: 10 } } });
    const [totals] = await queryRows<{ days: number; active: number; first_day: number }>(
      database.db,
      sql`select count(*)::int as days, sum(active_users)::int as active,
            (select active_users from usage_daily u join accounts a on a.id = u.account_id where a.external_id = 'usage-0' and day = '2026-01-01') as first_day
          from usage_daily u join accounts a on a.id = u.account_id where a.external_id like 'usage-%'`,
    );
    // 5000 days; 4990 × 5 + 9 × 9 + 7 = 25 038.
    expect(totals).toEqual({ days: 5000, active: 4990 * 5 + 9 * 9 + 7, first_day: 7 });
  });

  it('rejects the whole call when one row names an unknown account, saying which row', async () => {
    const response = await api.request(
      USAGE,
      { rows: [{ accountExternalId: 'usage-1', day: '2026-05-01', activeUsers: 1, seats: 1 }, { accountExternalId: 'nobody', day: '2026-05-01', activeUsers: 1, seats: 1 }] },
      integration,
    );
    expect(response.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'rows[1].accountExternalId' } });
    expect(response.body.errors?.[0]?.message).toMatch(/no account nobody. Create it first with upsertAccounts/);
    const [count] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from usage_daily where day = '2026-05-01'`);
    expect(count?.n).toBe(0);
  });

  it('names the first row with an unknown account in a call of several statements, among known rows on both sides, and writes nothing', async () => {
    await api.request(UPSERT, { accounts: crmAccounts(10, 'span') }, integration);
    const rows = Array.from({ length: USAGE_CHUNK_ROWS * 3 }, (_, index) => ({
      accountExternalId: `span-${index % 10}`,
      day: new Date(Date.UTC(2020, 0, 1) + Math.floor(index / 10) * 86_400_000).toISOString().slice(0, 10),
      activeUsers: 2,
      seats: 3,
    }));
    const first = USAGE_CHUNK_ROWS + 7345;
    rows[first] = { ...rows[first], accountExternalId: 'span-missing' } as (typeof rows)[number];
    rows[first + USAGE_CHUNK_ROWS] = { ...rows[first + USAGE_CHUNK_ROWS], accountExternalId: 'span-missing-too' } as (typeof rows)[number];
    const response = await api.request(USAGE, { rows }, integration);
    expect(response.body.errors?.[0]).toMatchObject({
      message: `rows[${first}].accountExternalId: no account span-missing. Create it first with upsertAccounts.`,
      extensions: { code: 'BAD_USER_INPUT', field: `rows[${first}].accountExternalId` },
    });
    // The rows before it, in the call's first statement, are not kept either.
    const written = () => queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from usage_daily u join accounts a on a.id = u.account_id where a.external_id like 'span-%'`);
    expect((await written())[0]?.n).toBe(0);

    // A Lifeline account id unknown to Lifeline is named the same way, by its field.
    const byId = [...rows.slice(0, first), { accountId: '00000000-0000-4000-8000-000000000000', day: '2020-01-01', activeUsers: 1, seats: 1 }];
    const unknownId = await api.request(USAGE, { rows: byId }, integration);
    expect(unknownId.body.errors?.[0]).toMatchObject({
      message: `rows[${first}].accountId: no account 00000000-0000-4000-8000-000000000000. Create it first with upsertAccounts.`,
      extensions: { code: 'BAD_USER_INPUT', field: `rows[${first}].accountId` },
    });
    expect((await written())[0]?.n).toBe(0);
  });

  it('names the unknown account id in a call naming every account by id, in one statement or several, and writes nothing', async () => {
    const created = await api.request(UPSERT, { accounts: crmAccounts(10, 'by-id') }, integration);
    const ids = (created.body as { data: { upsertAccounts: { accounts: { id: string }[] } } }).data.upsertAccounts.accounts.map((account) => account.id);
    const unknown = '00000000-0000-4000-8000-00000000beef';
    const daysOf = (count: number, from: number) =>
      Array.from({ length: count }, (_, index) => ({
        accountId: ids[index % 10],
        day: new Date(Date.UTC(2019, 0, 1) + Math.floor((from + index) / 10) * 86_400_000).toISOString().slice(0, 10),
        activeUsers: 3,
        seats: 4,
      }));
    const written = async () =>
      (await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from usage_daily u join accounts a on a.id = u.account_id where a.external_id like 'by-id-%'`))[0]?.n;

    // One statement: the unknown id among known ones on both sides.
    const one = daysOf(500, 0);
    one[321] = { ...one[321], accountId: unknown } as (typeof one)[number];
    const alone = await api.request(USAGE, { rows: one }, integration);
    expect(alone.body.errors?.[0]).toMatchObject({
      message: `rows[321].accountId: no account ${unknown}. Create it first with upsertAccounts.`,
      extensions: { code: 'BAD_USER_INPUT', field: 'rows[321].accountId' },
    });
    expect(await written()).toBe(0);

    // Several statements: the first two unknown ids fall in the second and third; the first statement's rows go too.
    const several = daysOf(USAGE_CHUNK_ROWS * 3, 0);
    const first = USAGE_CHUNK_ROWS + 4321;
    several[first] = { ...several[first], accountId: unknown } as (typeof several)[number];
    several[first + USAGE_CHUNK_ROWS] = { ...several[first + USAGE_CHUNK_ROWS], accountId: '00000000-0000-4000-8000-00000000f00d' } as (typeof several)[number];
    const spread = await api.request(USAGE, { rows: several }, integration);
    expect(spread.body.errors?.[0]).toMatchObject({
      message: `rows[${first}].accountId: no account ${unknown}. Create it first with upsertAccounts.`,
      extensions: { code: 'BAD_USER_INPUT', field: `rows[${first}].accountId` },
    });
    expect(await written()).toBe(0);

    // Without the unknown ids the same calls write every row.
    expect((await api.request(USAGE, { rows: daysOf(USAGE_CHUNK_ROWS * 3, 0) }, integration)).body).toEqual({ data: { recordUsage: { written: USAGE_CHUNK_ROWS * 3 } } });
    expect(await written()).toBe(USAGE_CHUNK_ROWS * 3);
  });

  it("refuses an unknown account id inside the caller's transaction without ending it: the caller's other writes still commit", async () => {
    const created = await api.request(UPSERT, { accounts: crmAccounts(2, 'caller-tx') }, integration);
    const [known, other] = (created.body as { data: { upsertAccounts: { accounts: { id: string }[] } } }).data.upsertAccounts.accounts.map((account) => account.id);
    const actor = { userId: null, role: 'integration', label: 'Test import' } as const;
    const unknown = '00000000-0000-4000-8000-0000000c0ffe';
    await database.db.transaction(async (tx) => {
      expect(await recordUsage(tx, { actor, rows: [{ accountId: known, day: '2019-06-01', activeUsers: 1, seats: 2 }] })).toEqual({ written: 1 });
      await expect(
        recordUsage(tx, {
          actor,
          rows: [
            { accountId: other, day: '2019-06-02', activeUsers: 1, seats: 2 },
            { accountId: unknown, day: '2019-06-02', activeUsers: 1, seats: 2 },
          ],
        }),
      ).rejects.toThrow(`rows[1].accountId: no account ${unknown}. Create it first with upsertAccounts.`);
      // The transaction goes on: a refused call is the caller's to handle, as a refused row is the importer's.
      expect(await recordUsage(tx, { actor, rows: [{ accountId: other, day: '2019-06-03', activeUsers: 5, seats: 2 }] })).toEqual({ written: 1 });
    });
    const stored = await queryRows<{ account_id: string; day: string }>(
      database.db,
      sql`select account_id, day::text from usage_daily where account_id in (${known}, ${other}) order by day`,
    );
    expect(stored).toEqual([
      { account_id: known, day: '2019-06-01' },
      { account_id: other, day: '2019-06-03' },
    ]);
  });

  it('keeps the last of repeated account-days when they fall in different statements of one call', async () => {
    await api.request(UPSERT, { accounts: crmAccounts(3, 'repeat') }, integration);
    const rows = Array.from({ length: USAGE_CHUNK_ROWS + 10 }, (_, index) => ({
      accountExternalId: `repeat-${index % 3}`,
      day: new Date(Date.UTC(2020, 0, 1) + Math.floor(index / 3) * 86_400_000).toISOString().slice(0, 10),
      activeUsers: 1,
      seats: 5,
    }));
    // The first row's account-day again, last in the call: it wins over the first, which went in an earlier statement.
    rows.push({ ...rows[0], activeUsers: 4 } as (typeof rows)[number]);
    const response = await api.request(USAGE, { rows }, integration);
    expect(response.body).toEqual({ data: { recordUsage: { written: USAGE_CHUNK_ROWS + 10 } } });
    const [totals] = await queryRows<{ days: number; first_day: number }>(
      database.db,
      sql`select count(*)::int as days,
            (select active_users from usage_daily u join accounts a on a.id = u.account_id where a.external_id = 'repeat-0' and day = '2020-01-01') as first_day
          from usage_daily u join accounts a on a.id = u.account_id where a.external_id like 'repeat-%'`,
    );
    expect(totals).toEqual({ days: USAGE_CHUNK_ROWS + 10, first_day: 4 });
  });

  it('explains a call naming one account by its id and by its CRM id on the same day, and writes nothing', async () => {
    const created = await api.request(UPSERT, { accounts: crmAccounts(1, 'twice') }, integration);
    const id = (created.body as { data: { upsertAccounts: { accounts: { id: string }[] } } }).data.upsertAccounts.accounts[0]?.id;
    const rows = [
      { accountId: id, day: '2020-02-01', activeUsers: 1, seats: 5 },
      { accountExternalId: 'twice-0', day: '2020-02-01', activeUsers: 2, seats: 5 },
    ];
    const response = await api.request(USAGE, { rows }, integration);
    expect(response.body).toMatchObject({
      data: null,
      errors: [{ message: expect.stringContaining('one naming it by accountId and one by accountExternalId'), extensions: { code: 'BAD_USER_INPUT', field: 'rows' } }],
    });
    const [written] = await queryRows<{ days: number }>(database.db, sql`select count(*)::int as days from usage_daily where account_id = ${id}`);
    expect(written).toEqual({ days: 0 });
  });

  it('finds accounts by CRM ids holding quotes, backslashes, commas, braces and the word NULL, beside rows naming accounts by id', async () => {
    const awkward = ['say "hi", {now}', 'C:\\crm\\7', 'NULL', ' spaced  inside ', 'ünï-cødé'];
    const created = await api.request(
      UPSERT,
      { accounts: [...awkward.map((externalId, index) => ({ ...crmAccounts(1, 'awkward')[0], externalId, name: `Awkward ${index}` })), ...crmAccounts(1, 'plain-id')] },
      integration,
    );
    const byExternalId = new Map(
      (created.body as { data: { upsertAccounts: { accounts: { externalId: string; id: string }[] } } }).data.upsertAccounts.accounts.map((account) => [account.externalId, account.id]),
    );
    const plainId = byExternalId.get('plain-id-0');
    const rows = [
      ...awkward.map((externalId, index) => ({ accountExternalId: externalId, day: '2020-03-01', activeUsers: index + 1, seats: 10 })),
      { accountId: plainId, day: '2020-03-01', activeUsers: 9, seats: 10 },
    ];
    expect((await api.request(USAGE, { rows }, integration)).body).toEqual({ data: { recordUsage: { written: 6 } } });
    const stored = await queryRows<{ external_id: string; active_users: number }>(
      database.db,
      sql`select a.external_id, u.active_users from usage_daily u join accounts a on a.id = u.account_id where u.day = '2020-03-01' and (a.name like 'Awkward %' or a.external_id = 'plain-id-0') order by u.active_users`,
    );
    // The CRM id is trimmed on the way in, as every text field is.
    expect(stored).toEqual([...awkward.map((externalId, index) => ({ external_id: externalId.trim(), active_users: index + 1 })), { external_id: 'plain-id-0', active_users: 9 }]);
  });

  it('takes rows checked by checkUsageRow as they are, and checks any other row, even one shaped like them', async () => {
    await api.request(UPSERT, { accounts: crmAccounts(1, 'checked') }, integration);
    const actor = { userId: null, role: 'integration', label: 'Test import' } as const;
    const checked = checkUsageRow({ accountExternalId: ' checked-0 ', day: '2026-02-01', activeUsers: 6, seats: 8 });
    expect([checked.accountExternalId, checked.keyEvents]).toEqual(['checked-0', 0]);
    expect(() => checkUsageRow({ accountExternalId: 'checked-0', day: '2026-02-30x', activeUsers: 6, seats: 8 }, 'rows[0]')).toThrow(
      /rows\[0\]\.day: use a calendar date written YYYY-MM-DD/,
    );
    expect(await recordUsage(database.db, { actor, rows: [checked] })).toEqual({ written: 1 });
    // A copy of a checked row's fields is an ordinary row: checked again, so a bad value is refused.
    const lookalike = { accountExternalId: 'checked-0', day: '2026-02-02', activeUsers: -1, seats: 8, keyEvents: 0, advancedEvents: 0 };
    await expect(recordUsage(database.db, { actor, rows: [checked, lookalike] })).rejects.toThrow('rows[1].activeUsers: cannot be negative');
    const [stored] = await queryRows<{ days: number; active: number }>(
      database.db,
      sql`select count(*)::int as days, sum(active_users)::int as active from usage_daily u join accounts a on a.id = u.account_id where a.external_id = 'checked-0'`,
    );
    expect(stored).toEqual({ days: 1, active: 6 });
  });

  it('takes or refuses each row exactly as usageRowSchema does, whatever the row holds, and stores what the schema gives', async () => {
    const created = await api.request(UPSERT, { accounts: crmAccounts(1, 'schema-parity') }, integration);
    const id = (created.body as { data: { upsertAccounts: { accounts: { id: string }[] } } }).data.upsertAccounts.accounts[0]?.id ?? '';
    const actor = { userId: null, role: 'integration', label: 'Test' } as const;
    const usual = { accountId: id, day: '2024-02-29', activeUsers: 3, seats: 4 };
    const typed: UsageRowInput[] = [
      usual,
      { ...usual, accountId: id.toUpperCase(), keyEvents: 7, advancedEvents: 0 },
      { ...usual, keyEvents: undefined, advancedEvents: undefined },
      { ...usual, activeUsers: -0, seats: 2_000_000_000 },
      { ...usual, seats: 2_000_000_001 },
      { ...usual, seats: 1.5 },
      { ...usual, seats: Number.NaN },
      { ...usual, seats: Number.POSITIVE_INFINITY },
      { ...usual, activeUsers: -1 },
      { ...usual, day: '2023-02-29' },
      { ...usual, day: '2024-04-31' },
      { ...usual, day: ' 2024-02-01' },
      { ...usual, day: '2024-2-01' },
      { ...usual, accountId: '00000000-0000-0000-0000-000000000000' },
      { ...usual, accountId: '6ba7b810-9dad-91d1-80b4-00c04fd430c8' },
      { ...usual, accountId: `${id} ` },
      { ...usual, accountId: `${id}\u0000` },
      { ...usual, accountId: null },
      { ...usual, accountId: undefined, accountExternalId: 'schema-parity-0' },
      { ...usual, accountExternalId: null },
      { ...usual, accountExternalId: 'schema-parity-0' },
      { ...usual, accountExternalId: '' },
    ];
    // Rows as parsed JSON may hold them, whatever their types, and with fields the schema does not know.
    const untyped: UsageRowInput[] = JSON.parse(
      JSON.stringify([
        { ...usual, keyEvents: null },
        { ...usual, seats: '4' },
        { ...usual, day: 20240201 },
        { ...usual, note: 'a field the schema does not know' },
        { ...usual, note: 'holding a NUL \u0000' },
        { accountId: id, activeUsers: 3, seats: 4 },
      ]),
    );
    const rows = [...typed, ...untyped];
    // Each row alone, its outcome (what is stored, or the refusal) beside the schema's own verdict on it.
    for (const [index, row] of rows.entries()) {
      await database.db.execute(sql`delete from usage_daily where account_id = ${id}`);
      let expected: unknown;
      try {
        const parsed = parseInput(usageRowSchema, row, 'rows[0]');
        expected = parsed.accountId && parsed.accountId.toLowerCase() !== id ? 'unknown account' : [{ day: parsed.day, counts: [parsed.activeUsers, parsed.seats, parsed.keyEvents, parsed.advancedEvents].map((count) => count + 0) }];
      } catch (error) {
        expected = error instanceof Error ? error.message : error;
      }
      const outcome = await recordUsage(database.db, { actor, rows: [row] }).then(
        async () =>
          (
            await queryRows<{ day: string; counts: number[] }>(
              database.db,
              sql`select day::text, array[active_users, seats, key_events, advanced_events] as counts from usage_daily where account_id = ${id}`,
            )
          ).map((stored) => ({ day: stored.day, counts: stored.counts })),
        (error: unknown) => (error instanceof Error && / no account /.test(error.message) ? 'unknown account' : error instanceof Error ? error.message : error),
      );
      expect([index, outcome]).toEqual([index, expected]);
    }
  });

  it('validates each row with the field that is wrong', async () => {
    const negative = await api.request(USAGE, { rows: [{ accountExternalId: 'usage-1', day: '2026-05-02', activeUsers: -3, seats: 1 }] }, integration);
    expect(negative.body.errors?.[0]).toMatchObject({ message: 'rows[0].activeUsers: cannot be negative', extensions: { code: 'BAD_USER_INPUT', field: 'rows[0].activeUsers' } });
    const neither = await api.request(USAGE, { rows: [{ day: '2026-05-02', activeUsers: 3, seats: 1 }] }, integration);
    expect(neither.body.errors?.[0]?.message).toMatch(/rows\[0\]\.accountId: give exactly one of accountId/);
  });
});

describe('tickets, NPS, first value and revenue', () => {
  it('a ticket opened and resolved by its help desk id shows in the account signals', async () => {
    const opened = await api.request(
      'mutation { recordTicket(accountExternalId: "usage-2", externalId: "zd-1", severity: urgent, subject: "SSO broken", openedAt: "2026-11-20T09:00:00Z") { id resolvedAt } }',
      {},
      integration,
    );
    expect(opened.body.errors).toBeUndefined();
    await api.request('mutation { recordTicket(accountExternalId: "usage-2", externalId: "zd-2", severity: low, subject: "Typo", openedAt: "2026-11-21T09:00:00Z") { id } }', {}, integration);
    await api.request('mutation { recordNps(accountExternalId: "usage-2", score: 9, respondedAt: "2026-11-22T09:00:00Z") { id } }', {}, integration);
    const id = (await queryRows<{ id: string }>(database.db, sql`select id from accounts where external_id = 'usage-2'`))[0]?.id;
    const signals = () => api.request('query ($id: ID!) { account(id: $id) { signals { openTickets urgentOpenTickets lastNpsScore } } }', { id }, manager);
    expect((await signals()).body.data).toEqual({ account: { signals: { openTickets: 2, urgentOpenTickets: 1, lastNpsScore: 9 } } });
    const resolved = await api.request('mutation { resolveTicket(externalId: "zd-1", resolvedAt: "2026-11-22T10:00:00Z") { resolvedAt } }', {}, integration);
    expect(resolved.body.data).toEqual({ resolveTicket: { resolvedAt: '2026-11-22T10:00:00.000Z' } });
    expect((await signals()).body.data).toEqual({ account: { signals: { openTickets: 1, urgentOpenTickets: 0, lastNpsScore: 9 } } });
  });

  it('explains an out-of-range NPS score and a revenue change whose sign does not match its kind', async () => {
    const nps = await api.request('mutation { recordNps(accountExternalId: "usage-2", score: 11, respondedAt: "2026-11-22T09:00:00Z") { id } }', {}, integration);
    expect(nps.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'score' } });
    expect(nps.body.errors?.[0]?.message).toMatch(/NPS scores are 0 to 10/);
    const revenue = await api.request(
      'mutation { recordRevenueChange(accountExternalId: "usage-2", kind: churn, mrrDeltaCents: 500, effectiveDate: "2026-11-01") { id } }',
      {},
      integration,
    );
    expect(revenue.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'mrrDeltaCents' } });
    expect(revenue.body.errors?.[0]?.message).toMatch(/contraction and churn remove it \(a negative delta\)/);
  });

  it('explains a moment or a date written in the document that is not one', async () => {
    const ticket = await api.request(
      'mutation { recordTicket(accountExternalId: "usage-2", externalId: "zd-bad", severity: low, subject: "Typo", openedAt: "last Tuesday") { id } }',
      {},
      integration,
    );
    expect(ticket.body.errors?.[0]?.message).toMatch(/DateTime must be an ISO 8601 string such as 2026-11-25T09:30:00Z/);
    const revenue = await api.request(
      'mutation { recordRevenueChange(accountExternalId: "usage-2", kind: expansion, mrrDeltaCents: 500, effectiveDate: "next month") { id } }',
      {},
      integration,
    );
    expect(revenue.body.errors?.[0]?.message).toMatch(/Date must be a calendar date written YYYY-MM-DD/);
    const [row] = await queryRows<{ count: string | number }>(database.db, sql`select count(*) as count from tickets where external_id = 'zd-bad'`);
    expect(Number(row?.count)).toBe(0);
  });

  it('a revenue change sent twice with the same id is recorded once', async () => {
    const opened = await api.request(
      'mutation { recordRevenueChange(accountExternalId: "usage-3", externalId: "inv-8", kind: new, mrrDeltaCents: 10000, effectiveDate: "2026-10-01") { id } }',
      {},
      integration,
    );
    expect(opened.body.errors).toBeUndefined();
    const send = () =>
      api.request(
        'mutation { recordRevenueChange(accountExternalId: "usage-3", externalId: "inv-9", kind: expansion, mrrDeltaCents: 2500, effectiveDate: "2026-11-01") { id mrrDeltaCents } }',
        {},
        integration,
      );
    const first = await send();
    const second = await send();
    expect(second.body.data).toEqual(first.body.data);
    const [count] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from revenue_changes where external_id = 'inv-9'`);
    expect(count?.n).toBe(1);
  });
});

describe('recordTouches', () => {
  const TOUCHES = 'mutation ($rows: [TouchInput!]!) { recordTouches(rows: $rows) { written } }';

  it('writes contacts by CRM activity id, matches people by email, and a repeat updates instead of adding', async () => {
    await api.request(UPSERT, { accounts: crmAccounts(3, 'touch') }, integration);
    const csm = await createUser(database.db, { role: 'csm', email: 'Dana.Touch@lifeline.example' });
    const rows = [
      { accountExternalId: 'touch-0', kind: 'call', occurredAt: '2026-11-20T15:00:00Z', userEmail: 'dana.touch@LIFELINE.example', externalId: 'act-1' },
      { accountExternalId: 'touch-0', kind: 'email', occurredAt: '2026-11-22T09:00:00Z', externalId: 'act-2' },
      { accountExternalId: 'touch-1', kind: 'meeting', occurredAt: '2026-11-23T10:00:00Z', userEmail: 'someone@customer.example' },
    ];
    const first = await api.request(TOUCHES, { rows }, integration);
    expect(first.body).toEqual({ data: { recordTouches: { written: 3 } } });
    // The CRM sends act-1 again, moved to the next day; act-2 twice in one call: the last one wins.
    const again = await api.request(
      TOUCHES,
      {
        rows: [
          { ...rows[0], occurredAt: '2026-11-21T15:00:00Z' },
          { ...rows[1], kind: 'slack' },
          { ...rows[1], kind: 'meeting' },
        ],
      },
      integration,
    );
    expect(again.body).toEqual({ data: { recordTouches: { written: 2 } } });
    const stored = await queryRows<{ external_id: string | null; kind: string; occurred_at: Date | string; user_id: string | null; account: string }>(
      database.db,
      sql`select t.external_id, t.kind::text, t.occurred_at, t.user_id, a.external_id as account
          from csm_touches t join accounts a on a.id = t.account_id where a.external_id like 'touch-%' order by t.occurred_at`,
    );
    expect(stored.map((row) => [row.account, row.external_id, row.kind, new Date(row.occurred_at).toISOString(), row.user_id])).toEqual([
      ['touch-0', 'act-1', 'call', '2026-11-21T15:00:00.000Z', csm.id],
      ['touch-0', 'act-2', 'meeting', '2026-11-22T09:00:00.000Z', null],
      ['touch-1', null, 'meeting', '2026-11-23T10:00:00.000Z', null],
    ]);
  });

  it('counts as CSM engagement in the next health score', async () => {
    const [account] = await database.db.select().from(accounts).where(eq(accounts.externalId, 'touch-2'));
    if (!account) throw new Error('touch-2 was not created');
    await api.request(TOUCHES, { rows: [{ accountId: account.id, kind: 'call', occurredAt: '2026-11-10T12:00:00Z' }] }, integration);
    const summary = await api.request('query ($id: ID!) { account(id: $id) { signals { lastTouchAt } } }', { id: account.id }, manager);
    expect(summary.body.data).toEqual({ account: { signals: { lastTouchAt: '2026-11-10T12:00:00.000Z' } } });
    await recomputeHealth(database.db, { now: new Date('2026-11-25T12:00:00Z'), accountIds: [account.id] });
    const health = await storedHealthOf(database.db, account.id);
    expect(health?.components?.engagement.detail).toMatch(/^last CSM touch 15 days ago/);
    expect(health?.reasons).toContain('no CSM touch in 15 days');
  });

  it('rejects the whole call when one row names an unknown account, and refuses roles that do not ingest', async () => {
    await api.request(UPSERT, { accounts: crmAccounts(1, 'touch-refused') }, integration);
    const rows = [
      { accountExternalId: 'touch-refused-0', kind: 'call', occurredAt: '2026-11-24T10:00:00Z', externalId: 'act-unknown-1' },
      { accountExternalId: 'nobody', kind: 'call', occurredAt: '2026-11-24T10:00:00Z', externalId: 'act-unknown-2' },
    ];
    const unknown = await api.request(TOUCHES, { rows }, integration);
    expect(unknown.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'rows[1].accountExternalId' } });
    expect(unknown.body.errors?.[0]?.message).toMatch(/no account nobody. Create it first with upsertAccounts/);
    const late = await api.request(TOUCHES, { rows: [{ ...rows[0], occurredAt: 'yesterday' }] }, integration);
    // Where the bad value is, and what a good one looks like.
    expect(late.body.errors?.[0]).toMatchObject({
      message: 'Variable "$rows" got invalid value "yesterday" at "rows[0].occurredAt"; DateTime must be an ISO 8601 string such as 2026-11-25T09:30:00Z.',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const forbidden = await api.request(TOUCHES, { rows: [rows[0]] }, manager);
    expect(forbidden.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const [count] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from csm_touches where external_id like 'act-unknown-%'`);
    expect(count?.n).toBe(0);
  });
});
