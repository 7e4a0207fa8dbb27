import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config.ts';
import { type Db, queryRows } from '../db/client.ts';
import { type ImportKindName, importKinds } from '../import/kinds.ts';
import { type ImportOptions, type Refusal, describeRefusal, importFile } from '../import/run.ts';
import { type Lifeline, startLifeline } from '../server.ts';
import { useTestDatabase } from './support/database.ts';
import { createToken } from './support/factories.ts';
import { silentLogger } from './support/graphql.ts';

const database = useTestDatabase();
const examples = new URL('../examples/', import.meta.url).pathname;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'lifeline-import-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function fileWith(name: string, text: string): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, text);
  return path;
}

function local(kind: ImportKindName, file: string, options: Partial<ImportOptions> = {}) {
  const refusals: Refusal[] = [];
  return importFile({ kind, file, target: { kind: 'local', db: database.db }, onRefusal: (refusal) => refusals.push(refusal), ...options }).then((summary) => ({
    ...summary,
    seen: refusals,
  }));
}

/** Rows of every table the import writes, to see that a run changed nothing. */
async function tableCounts(db: Db) {
  const [counts] = await queryRows<{ accounts: number; users: number; usage: number; tickets: number; answers: number; touches: number; revenue: number; transitions: number; renewals: number }>(
    db,
    sql`select (select count(*)::int from accounts) as accounts, (select count(*)::int from users) as users,
               (select count(*)::int from usage_daily) as usage, (select count(*)::int from tickets) as tickets,
               (select count(*)::int from survey_responses) as answers, (select count(*)::int from csm_touches) as touches,
               (select count(*)::int from revenue_changes) as revenue, (select count(*)::int from stage_transitions) as transitions,
               (select count(*)::int from renewals) as renewals`,
  );
  return counts;
}

describe('importing the sample files into the local database', () => {
  it('imports every kind from its sample file, and a second import of the same files writes nothing new', async () => {
    const before = await tableCounts(database.db);
    for (const kind of importKinds) {
      const summary = await local(kind, `${examples}${kind}.csv`);
      expect({ kind, refused: summary.seen.map(describeRefusal), written: summary.written }).toEqual({ kind, refused: [], written: summary.rowsRead });
    }
    const ndjson = await local('usage', `${examples}usage.ndjson`);
    expect([ndjson.rowsRead, ndjson.written, ndjson.refused]).toEqual([2, 2, 0]);

    const after = await tableCounts(database.db);
    if (!after || !before) throw new Error('no counts');
    expect({
      accounts: after.accounts - before.accounts,
      users: after.users - before.users,
      usage: after.usage - before.usage,
      tickets: after.tickets - before.tickets,
      answers: after.answers - before.answers,
      touches: after.touches - before.touches,
      revenue: after.revenue - before.revenue,
    }).toEqual({ accounts: 3, users: 3, usage: 6, tickets: 2, answers: 2, touches: 2, revenue: 3 });
    const [resolved] = await queryRows<{ resolved_at: string | null }>(database.db, sql`select resolved_at::text from tickets where external_id = 'zd-1234'`);
    expect(resolved?.resolved_at).not.toBeNull();
    const [dana] = await queryRows<{ manager: string | null }>(
      database.db,
      sql`select m.email as manager from users u left join users m on m.id = u.manager_id where u.email = 'dana@example.com'`,
    );
    expect(dana?.manager).toBe('morgan@example.com');

    for (const kind of importKinds) await local(kind, `${examples}${kind}.csv`);
    await local('usage', `${examples}usage.ndjson`);
    expect(await tableCounts(database.db)).toEqual(after);
  });
});

describe('a file with bad rows', () => {
  const badUsage = [
    'accountExternalId,day,activeUsers,seats,keyEvents',
    'crm-1001,2026-04-01,10,50,3',
    'crm-1001,2026-13-01,10,50,3',
    'crm-1002,2026-04-01,many,30,1',
    'crm-9999,2026-04-01,1,2,0',
    'crm-1002,2026-04-02,11,30,',
    '',
  ].join('\n');

  beforeAll(async () => {
    await local('accounts', `${examples}accounts.csv`);
  });

  async function usageOn(day: string): Promise<number> {
    const [row] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from usage_daily where day = ${day}`);
    return row?.n ?? 0;
  }

  it('reports each bad row with its line, column and a good value, and writes the good rows', async () => {
    const summary = await local('usage', await fileWith('bad-usage.csv', badUsage));
    expect([summary.rowsRead, summary.written, summary.skipped, summary.refused]).toEqual([5, 2, 0, 3]);
    const byLine = [...summary.seen].sort((a, b) => a.line - b.line);
    expect(byLine.map((refusal) => [refusal.line, refusal.column, refusal.value, refusal.expected])).toEqual([
      [3, 'day', '2026-13-01', '2026-03-01'],
      [4, 'activeUsers', 'many', '42'],
      [5, 'accountExternalId', 'crm-9999', 'crm-0042'],
    ]);
    expect(describeRefusal(byLine[0] as Refusal)).toBe(
      'line 3, column day: use a calendar date written YYYY-MM-DD (got "2026-13-01"); a good value looks like 2026-03-01',
    );
    expect(byLine[2]?.problem).toContain('no account crm-9999');
    expect([await usageOn('2026-04-01'), await usageOn('2026-04-02')]).toEqual([1, 1]);
  });

  it('names the right lines in a Windows file whose quoted cells hold line breaks', async () => {
    const lines = [
      'accountExternalId,externalId,severity,subject,openedAt',
      'crm-1001,crlf-1,high,"Export fails\r\nafter the upgrade\r\n",2026-03-01T09:00:00Z',
      'crm-1001,crlf-2,sev-9,Wrong severity,2026-03-01T09:00:00Z',
      'crm-1002,crlf-3,low,"One\nbreak, Unix style",2026-03-02T09:00:00Z',
      'crm-1002,crlf-4,high,Bad time,yesterday',
    ];
    const summary = await local('tickets', await fileWith('crlf-tickets.csv', `${lines.join('\r\n')}\r\n`));
    // The first ticket spans lines 2–4; the refused ones sit on lines 5 and 8 (the third spans 6–7).
    expect(summary.refusals.map((refusal) => [refusal.line, refusal.column])).toEqual([
      [5, 'severity'],
      [8, 'openedAt'],
    ]);
    expect([summary.rowsRead, summary.written]).toEqual([4, 2]);
  });

  it('with --all-or-nothing writes none of the rows when one is refused', async () => {
    const file = await fileWith('bad-usage-2.csv', badUsage.replaceAll('2026-04-0', '2026-05-0'));
    const summary = await local('usage', file, { allOrNothing: true });
    expect([summary.rowsRead, summary.written, summary.skipped, summary.refused]).toEqual([5, 0, 2, 3]);
    expect([await usageOn('2026-05-01'), await usageOn('2026-05-02')]).toEqual([0, 0]);
  });

  it('with --dry-run checks every row (unknown accounts included) and writes nothing', async () => {
    const file = await fileWith('bad-usage-3.csv', badUsage.replaceAll('2026-04-0', '2026-06-0'));
    const before = await tableCounts(database.db);
    const summary = await local('usage', file, { dryRun: true });
    expect([summary.rowsRead, summary.written, summary.skipped, summary.refused]).toEqual([5, 0, 2, 3]);
    expect(summary.seen.map((refusal) => refusal.line).sort()).toEqual([3, 4, 5]);
    expect(await tableCounts(database.db)).toEqual(before);
  });

  it('refuses a file missing a required column before reading its rows, naming the columns a file of that kind has', async () => {
    const file = await fileWith('no-day.csv', 'accountExternalId,activeUsers,seats\ncrm-1001,1,2\n');
    await expect(local('usage', file)).rejects.toThrow(/has no column day\. A usage file has the columns accountExternalId, accountId, day/);
  });

  it('refuses an NDJSON line that is not an object, and a ledger movement the account cannot have, and goes on', async () => {
    const file = await fileWith(
      'revenue.ndjson',
      [
        '{"accountExternalId":"crm-1003","externalId":"inv-x1","kind":"expansion","mrrDeltaCents":5000,"effectiveDate":"2026-02-01"}',
        'not json',
        '{"accountExternalId":"crm-1003","externalId":"inv-x2","kind":"new","mrrDeltaCents":5000,"effectiveDate":"2026-02-01"}',
      ].join('\n'),
    );
    const summary = await local('revenue', file);
    expect([summary.rowsRead, summary.written, summary.refused]).toEqual([3, 1, 2]);
    const byLine = [...summary.seen].sort((a, b) => a.line - b.line);
    expect(byLine.map((refusal) => [refusal.line, refusal.column])).toEqual([
      [1, 'kind'],
      [2, undefined],
    ]);
    expect(byLine[0]?.problem).toContain('record it as new business');
    expect(byLine[1]?.problem).toContain('not a JSON object');
  });
});

describe('writing a usage file in two lanes', () => {
  let ids: Map<string, string>;

  beforeAll(async () => {
    const accounts = ['externalId,name,segment,arrCents', ...Array.from({ length: 12 }, (_, index) => `lane-${index},Lane ${index},smb,100000`)];
    await local('accounts', await fileWith('lane-accounts.csv', `${accounts.join('\n')}\n`));
    const rows = await queryRows<{ id: string; external_id: string }>(database.db, sql`select id, external_id from accounts where external_id like 'lane-%' order by external_id`);
    ids = new Map(rows.map((row) => [row.external_id, row.id]));
  });

  const laned = (file: string, options: Partial<ImportOptions> = {}) =>
    local('usage', file, { target: { kind: 'local', db: database.db, writeLanes: 2 }, batchRows: 2, ...options });

  async function usersOn(day: string): Promise<Record<string, number>> {
    const rows = await queryRows<{ external_id: string; active_users: number }>(
      database.db,
      sql`select a.external_id, u.active_users from usage_daily u join accounts a on a.id = u.account_id where u.day = ${day}`,
    );
    return Object.fromEntries(rows.map((row) => [row.external_id, row.active_users]));
  }

  it('keeps the last row of each account and day in file order, across many batches of both lanes', async () => {
    const accounts = [...ids.keys()];
    expect(accounts).toHaveLength(12);
    // Every account's day written five times, round after round: the fifth value must win in every lane.
    const lines = ['accountExternalId,day,activeUsers,seats'];
    for (let round = 1; round <= 5; round += 1) for (const account of accounts) lines.push(`${account},2025-06-01,${round},10`);
    const summary = await laned(await fileWith('laned.csv', `${lines.join('\n')}\n`));
    expect([summary.written, summary.refused]).toEqual([accounts.length * 5, 0]);
    expect(await usersOn('2025-06-01')).toEqual(Object.fromEntries(accounts.map((account) => [account, 5])));
  });

  it('goes on in one lane from the first row naming its account the other way, so the later row still wins', async () => {
    const [first, second] = [...ids.entries()];
    if (!first || !second) throw new Error('the sample accounts are missing');
    const lines = [
      'accountExternalId,accountId,day,activeUsers,seats',
      `${first[0]},,2025-06-02,1,10`,
      `${second[0]},,2025-06-02,1,10`,
      `${first[0]},,2025-06-03,1,10`,
      // The same accounts and day named by their Lifeline ids: these are later in the file, so they win.
      `,${first[1]},2025-06-02,7,10`,
      `,${second[1]},2025-06-02,8,10`,
      `${second[0]},,2025-06-03,9,10`,
    ];
    const summary = await laned(await fileWith('mixed.csv', `${lines.join('\n')}\n`));
    expect([summary.written, summary.refused]).toEqual([6, 0]);
    expect(await usersOn('2025-06-02')).toMatchObject({ [first[0]]: 7, [second[0]]: 8 });
    expect(await usersOn('2025-06-03')).toMatchObject({ [first[0]]: 1, [second[0]]: 9 });
  });

  it('reports rows refused in either lane in file order, and writes every good row', async () => {
    const accounts = [...ids.keys()];
    const lines = ['accountExternalId,day,activeUsers,seats'];
    const unknown: number[] = [];
    for (let index = 0; index < 40; index += 1) {
      // Every fifth row names an account nobody has; its line is index + 2 (the header is line 1).
      if (index % 5 === 4) {
        lines.push(`crm-missing-${index},2025-06-04,1,10`);
        unknown.push(index + 2);
      } else {
        lines.push(`${accounts[index % accounts.length]},2025-06-0${5 + (index % 4)},${index},10`);
      }
    }
    const summary = await laned(await fileWith('laned-refusals.csv', `${lines.join('\n')}\n`));
    expect([summary.rowsRead, summary.written, summary.refused]).toEqual([40, 32, 8]);
    expect(summary.refusals.map((refusal) => refusal.line)).toEqual(unknown);
    expect(summary.refusals.every((refusal) => refusal.column === 'accountExternalId' && refusal.problem.includes('no account crm-missing-'))).toBe(true);
  });
});

describe('importing into a remote Lifeline over GraphQL', () => {
  let lifeline: Lifeline;
  let integration: string;

  beforeAll(async () => {
    lifeline = await startLifeline({ config: parseConfig({ PORT: '0' }), database, logger: silentLogger, host: '127.0.0.1', printLocal: () => {} });
    integration = await createToken(database.db, 'integration');
  });
  afterAll(async () => {
    await lifeline.close();
  });

  it('writes the good rows through the ingestion mutations and reports the rows the server refuses with their line', async () => {
    const url = `${lifeline.url}/graphql`;
    const accountsFile = await fileWith('remote-accounts.csv', 'externalId,name,segment,arrCents\nrem-1,Remote One,smb,100\nrem-2,Remote Two,galaxy,100\n');
    const accounts = await importFile({ kind: 'accounts', file: accountsFile, target: { kind: 'remote', url, token: integration } });
    expect([accounts.written, accounts.refused, accounts.refusals[0]?.line, accounts.refusals[0]?.column]).toEqual([1, 1, 3, 'segment']);

    const usageFile = await fileWith('remote-usage.csv', 'accountExternalId,day,activeUsers,seats\nrem-1,2026-07-01,3,4\nrem-404,2026-07-01,1,1\nrem-1,2026-07-02,5,4\n');
    const usage = await importFile({ kind: 'usage', file: usageFile, target: { kind: 'remote', url, token: integration } });
    expect([usage.rowsRead, usage.written, usage.refused]).toEqual([3, 2, 1]);
    expect(usage.refusals[0]).toMatchObject({ line: 3, column: 'accountExternalId', value: 'rem-404' });
    const ticketsFile = await fileWith('remote-tickets.csv', 'accountExternalId,externalId,severity,subject,openedAt,resolvedAt\nrem-1,rt-1,high,Broken,2026-07-01T10:00:00Z,2026-07-01T12:00:00Z\n');
    const ticket = await importFile({ kind: 'tickets', file: ticketsFile, target: { kind: 'remote', url, token: integration } });
    expect([ticket.written, ticket.refused]).toEqual([1, 0]);

    const [written] = await queryRows<{ usage: number; resolved: string | null }>(
      database.db,
      sql`select (select count(*)::int from usage_daily u join accounts a on a.id = u.account_id where a.external_id = 'rem-1') as usage,
                 (select resolved_at::text from tickets where external_id = 'rt-1') as resolved`,
    );
    expect(written?.usage).toBe(2);
    expect(written?.resolved).not.toBeNull();

    await expect(importFile({ kind: 'usage', file: usageFile, target: { kind: 'remote', url, token: 'not-a-token' } })).rejects.toThrow(/refused the token/);
  });

  it('runs as `npm run import`: prints each refused row and the summary, and exits 1 when a row was refused', async () => {
    const file = await fileWith('cli-accounts.csv', 'externalId,name,segment,arrCents\ncli-1,Cli One,smb,100\ncli-2,Cli Two,smb,lots\ncli-3,Cli Three,enterprise,300\n');
    // Against PostgreSQL the command writes straight into the test database; with the embedded database (which
    // one process holds), it reaches the same database through the Lifeline serving it.
    const target = database.url ? [] : ['--url', `${lifeline.url}/graphql`, '--token', integration];
    const env = { ...process.env, LOG_LEVEL: 'silent', DATABASE_URL: database.url ?? '' };
    const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'import/cli.ts', 'accounts', file, ...target], { env, cwd: new URL('..', import.meta.url).pathname }).then(
      (done) => ({ code: 0, stdout: done.stdout, stderr: done.stderr }),
      (failed: { code: number; stdout: string; stderr: string }) => ({ code: failed.code, stdout: failed.stdout, stderr: failed.stderr }),
    );
    expect(run.stderr).toContain('line 3, column arrCents: must be a whole number, digits only (got "lots"); a good value looks like 1200000');
    expect(run.stdout).toContain('Imported: 3 rows read, 2 written, 0 skipped, 1 refused.');
    expect(run.code).toBe(1);

    const rows = await queryRows<{ external_id: string }>(database.db, sql`select external_id from accounts where external_id like 'cli-%' order by external_id`);
    expect(rows.map((row) => row.external_id)).toEqual(['cli-1', 'cli-3']);
  }, 60_000);
});
