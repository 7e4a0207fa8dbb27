import { beforeAll, describe, expect, it } from 'vitest';
import type { Account, Handoff, User } from '../db/schema.ts';
import { countAccounts, listAccounts } from '../domain/accounts/listing.ts';
import { getAccount, getAccountOverview, getAccountsByIds, searchAccountsByName } from '../domain/accounts/reads.ts';
import { type Actor, actorFromUser, systemReader } from '../domain/actors.ts';
import { getBook, listUpcomingRenewals } from '../domain/accounts/book.ts';
import { listDigestItems } from '../domain/digest.ts';
import { getAccountHealth, getHealthSummariesByAccountIds, listAtRisk } from '../domain/health/queries.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { getHealthSettings } from '../domain/health/model.ts';
import { getLatestRenewalsByAccountIds, listRenewals } from '../domain/renewals/queries.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { getHandoff, getLatestHandoffsByAccountIds, listHandoffs } from '../domain/handoffs/handoffs.ts';
import { getAccountToMove, listTransitions } from '../domain/lifecycle/moves.ts';
import { listStages } from '../domain/lifecycle/stages.ts';
import { getSignalsSummaries } from '../domain/signals.ts';
import { listUsers } from '../domain/users.ts';
import { useTestDatabase } from './support/database.ts';
import { createUser } from './support/factories.ts';
import { addTouch, daysBefore } from './support/signals.ts';
import { isoDay } from '../domain/dates.ts';

// Every read in domain decides what its reader may see, whichever surface calls it: an account executive sees only
// the accounts they sold, an integration token reads nothing, and everyone else who reads accounts sees all of them.

const NOW = new Date();
const crm: Actor = { userId: null, role: 'integration', label: 'API token "crm"' };
const unlinkedAeToken: Actor = { userId: null, role: 'ae', label: 'API token "sales"' };

const database = useTestDatabase();
let ae: Actor;
let csm: Actor;
let viewer: Actor;
let aeUser: User;
let mine: { account: Account; handoff: Handoff };
let theirs: { account: Account; handoff: Handoff };

async function closedWon(name: string, aeId: string, csmId: string) {
  const closed = await recordClosedWon(database.db, {
    opportunityId: `reads-${name}`,
    account: { externalId: `reads-${name}`, name, segment: 'smb', arrCents: 1_200_000, contractEnd: isoDay(new Date(NOW.getTime() + 30 * 86_400_000)) },
    aeId,
    csmId,
    // Long past Onboarding's SLA, with an old touch: a real Critical score, so at-risk lists name the account.
    closedWonAt: daysBefore(NOW, 60),
    context: {},
    actor: crm,
  });
  if (closed.kind !== 'new_customer') throw new Error(`${name} was not a new customer`);
  await addTouch(database.db, closed.account.id, NOW, 50);
  return { account: closed.account, handoff: closed.handoff };
}

const ids = (rows: readonly { id: string }[]) => rows.map((row) => row.id).sort();
const accountIds = (rows: readonly { accountId: string }[]) => rows.map((row) => row.accountId).sort();
const listedIds = (rows: readonly { account: { id: string } }[]) => rows.map((row) => row.account.id).sort();

beforeAll(async () => {
  aeUser = await createUser(database.db, { role: 'ae', name: 'Tom Becker' });
  const otherAe = await createUser(database.db, { role: 'ae', name: 'Ana Silva' });
  const csmUser = await createUser(database.db, { role: 'csm', name: 'Sam Okafor' });
  ae = actorFromUser(aeUser);
  csm = actorFromUser(csmUser);
  viewer = actorFromUser(await createUser(database.db, { role: 'viewer', name: 'Vic Reader' }));
  mine = await closedWon('Readers Mine Co', aeUser.id, csmUser.id);
  theirs = await closedWon('Readers Theirs Co', otherAe.id, csmUser.id);
  await recomputeHealth(database.db, { now: NOW, accountIds: [mine.account.id, theirs.account.id] });
});

const both = () => [mine.account.id, theirs.account.id];
const sortedBoth = () => [...both()].sort();

describe('reading one account', () => {
  it('an account executive gets nothing for an account they did not sell, as for a missing one, and their own', async () => {
    expect(await getAccount(database.db, { id: theirs.account.id, reader: ae })).toBeUndefined();
    expect(await getAccount(database.db, { id: mine.account.id, reader: ae })).toMatchObject({ id: mine.account.id });
    expect(await getAccount(database.db, { id: theirs.account.id, reader: viewer })).toMatchObject({ id: theirs.account.id });
  });

  it('an integration token, or an AE token linked to nobody, is refused', async () => {
    await expect(getAccount(database.db, { id: mine.account.id, reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(getAccount(database.db, { id: mine.account.id, reader: unlinkedAeToken })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('the card overview refuses an account executive on an account they did not sell, saying why', async () => {
    await expect(getAccountOverview(database.db, { accountId: theirs.account.id, reader: ae })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringMatching(/^Account executives see only the accounts they sold/),
    });
    expect((await getAccountOverview(database.db, { accountId: mine.account.id, reader: ae }))?.account.id).toBe(mine.account.id);
    await expect(getAccountOverview(database.db, { accountId: mine.account.id, reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('the account behind a stage form is refused to someone who may not move it, before any form opens', async () => {
    await expect(getAccountToMove(database.db, { accountId: theirs.account.id, actor: ae })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(getAccountToMove(database.db, { accountId: mine.account.id, actor: viewer })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await getAccountToMove(database.db, { accountId: mine.account.id, actor: csm })).id).toBe(mine.account.id);
  });
});

describe('listing and batching accounts', () => {
  it('a listing, its count and a search show an account executive only the accounts they sold', async () => {
    const filter = { search: 'Readers' };
    expect(listedIds((await listAccounts(database.db, { filter, reader: ae, first: 10 })).rows)).toEqual([mine.account.id]);
    expect(listedIds((await listAccounts(database.db, { filter, reader: viewer, first: 10 })).rows)).toEqual(sortedBoth());
    expect(await countAccounts(database.db, { filter, reader: ae })).toBe(1);
    expect(await countAccounts(database.db, { filter, reader: csm })).toBe(2);
    expect(ids(await searchAccountsByName(database.db, { query: 'Readers', reader: ae }))).toEqual([mine.account.id]);
    await expect(listAccounts(database.db, { filter, reader: crm, first: 10 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(countAccounts(database.db, { filter, reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(searchAccountsByName(database.db, { query: 'Readers', reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('loaders given both ids return only what the reader may see', async () => {
    expect(ids(await getAccountsByIds(database.db, { ids: both(), reader: ae }))).toEqual([mine.account.id]);
    expect(ids(await getAccountsByIds(database.db, { ids: both(), reader: viewer }))).toEqual(sortedBoth());
    expect(accountIds(await getLatestHandoffsByAccountIds(database.db, { accountIds: both(), reader: ae }))).toEqual([mine.account.id]);
    expect(accountIds(await getHealthSummariesByAccountIds(database.db, { accountIds: both(), reader: ae }))).toEqual([mine.account.id]);
    expect(accountIds(await getLatestRenewalsByAccountIds(database.db, { accountIds: both(), reader: ae }))).toEqual([mine.account.id]);
    expect(accountIds(await getSignalsSummaries(database.db, { accountIds: both(), reader: ae }))).toEqual([mine.account.id]);
    expect(accountIds(await getSignalsSummaries(database.db, { accountIds: both(), reader: csm }))).toEqual(sortedBoth());
    for (const load of [
      () => getAccountsByIds(database.db, { ids: both(), reader: crm }),
      () => getLatestHandoffsByAccountIds(database.db, { accountIds: both(), reader: crm }),
      () => getHealthSummariesByAccountIds(database.db, { accountIds: both(), reader: crm }),
      () => getLatestRenewalsByAccountIds(database.db, { accountIds: both(), reader: crm }),
      () => getSignalsSummaries(database.db, { accountIds: both(), reader: crm }),
    ]) {
      await expect(load()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
  });
});

describe('handoffs and history', () => {
  it('an account executive reads their own handoff, gets nothing for another, and lists only theirs', async () => {
    expect(await getHandoff(database.db, { id: theirs.handoff.id, reader: ae })).toBeUndefined();
    expect(await getHandoff(database.db, { id: mine.handoff.id, reader: ae })).toMatchObject({ id: mine.handoff.id });
    expect(await getHandoff(database.db, { id: theirs.handoff.id, reader: viewer })).toMatchObject({ id: theirs.handoff.id });
    expect(ids(await listHandoffs(database.db, { reader: ae }))).toEqual([mine.handoff.id]);
    expect(ids(await listHandoffs(database.db, { reader: csm }))).toEqual([mine.handoff.id, theirs.handoff.id].sort());
    await expect(getHandoff(database.db, { id: mine.handoff.id, reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(listHandoffs(database.db, { reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it("an account executive reads no stage history of another's account", async () => {
    expect(await listTransitions(database.db, { accountId: theirs.account.id, reader: ae })).toEqual([]);
    expect((await listTransitions(database.db, { accountId: mine.account.id, reader: ae })).length).toBeGreaterThan(0);
    expect((await listTransitions(database.db, { accountId: theirs.account.id, reader: viewer })).length).toBeGreaterThan(0);
    await expect(listTransitions(database.db, { accountId: mine.account.id, reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('the lifecycle', () => {
  it('the stages are read by people, never by an integration token', async () => {
    expect((await listStages(database.db, { reader: viewer })).map((stage) => stage.key)).toContain('onboarding');
    expect((await listStages(database.db, { reader: ae })).map((stage) => stage.key)).toContain('onboarding');
    await expect(listStages(database.db, { reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('health, at-risk and renewals', () => {
  it("an account executive gets no health for another's account and lists only their own at risk", async () => {
    expect(await getAccountHealth(database.db, { accountId: theirs.account.id, reader: ae })).toBeNull();
    expect(await getAccountHealth(database.db, { accountId: mine.account.id, reader: ae })).toMatchObject({ status: 'critical' });
    expect(listedIds(await listAtRisk(database.db, { reader: ae }))).toEqual([mine.account.id]);
    expect(listedIds(await listAtRisk(database.db, { reader: viewer }))).toEqual(sortedBoth());
    expect(listedIds(await listDigestItems(database.db, { now: NOW, reader: ae }))).toEqual([mine.account.id]);
    expect(listedIds(await listDigestItems(database.db, { now: NOW, reader: systemReader }))).toEqual(sortedBoth());
    await expect(getAccountHealth(database.db, { accountId: mine.account.id, reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(listAtRisk(database.db, { reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(listDigestItems(database.db, { now: NOW, reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('renewals list an account executive only the renewals of accounts they sold', async () => {
    expect(accountIds(await listRenewals(database.db, { withinDays: 90, reader: ae }))).toEqual([mine.account.id]);
    expect(accountIds(await listRenewals(database.db, { withinDays: 90, reader: csm }))).toEqual(sortedBoth());
    await expect(listRenewals(database.db, { withinDays: 90, reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it("a book is its reader's own, and a token that is no person has none", async () => {
    const book = await getBook(database.db, { reader: ae, now: NOW });
    expect(book.accounts.map((row) => row.account.id)).toEqual([mine.account.id]);
    expect(ids(book.renewals)).toEqual([mine.account.id]);
    expect(ids(await listUpcomingRenewals(database.db, { reader: ae, now: NOW }))).toEqual([mine.account.id]);
    expect((await getBook(database.db, { reader: viewer, now: NOW })).accounts).toEqual([]);
    await expect(getBook(database.db, { reader: crm, now: NOW })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(listUpcomingRenewals(database.db, { reader: systemReader, now: NOW })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('people and the health model', () => {
  it('people and the health settings are read by people, never by an integration token', async () => {
    expect((await listUsers(database.db, { reader: viewer })).map((user) => user.name)).toContain('Tom Becker');
    await expect(listUsers(database.db, { reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await getHealthSettings(database.db, { reader: viewer })).default.healthyMin).toBeGreaterThan(0);
    await expect(getHealthSettings(database.db, { reader: crm })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(getHealthSettings(database.db, { reader: unlinkedAeToken })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
