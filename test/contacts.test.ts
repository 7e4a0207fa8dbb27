import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Account, type User, accountHealth, csmSentiments, outbox, ruleFirings, tasks, users } from '../db/schema.ts';
import { type Actor, actorFromUser } from '../domain/actors.ts';
import { DAY_MS } from '../domain/dates.ts';
import { ForbiddenError, InvalidInputError } from '../domain/errors.ts';
import { listContacts, markContactLeft, upsertContacts } from '../domain/people/contacts.ts';
import { championLeftReason } from '../domain/people/relationship.ts';
import { listSentimentHistory, setSentiment } from '../domain/people/sentiment.ts';
import { type TestDatabase, createTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';
import { setHealth } from './support/health.ts';
import { addSurvey } from './support/signals.ts';

let database: TestDatabase;
let api: ReturnType<typeof createGraphqlClient>;
let admin: User;
let manager: User;
let otherManager: User;
let csm: User;
let otherCsm: User;
let ae: User;
let viewer: User;

beforeAll(async () => {
  database = await createTestDatabase();
  const { db } = database;
  api = createGraphqlClient(db);
  admin = await createUser(db, { role: 'admin', name: 'Ada Admin' });
  manager = await createUser(db, { role: 'manager', name: 'Mona Manager' });
  otherManager = await createUser(db, { role: 'manager', name: 'Omar Othermanager' });
  csm = await createUser(db, { role: 'csm', name: 'Cara Csm' });
  otherCsm = await createUser(db, { role: 'csm', name: 'Otto Othercsm' });
  ae = await createUser(db, { role: 'ae', name: 'Abe Ae' });
  viewer = await createUser(db, { role: 'viewer', name: 'Vera Viewer' });
  // Cara reports to Mona, so Mona may act on Cara's accounts and Omar may not.
  await db.update(users).set({ managerId: manager.id }).where(eq(users.id, csm.id));
});
afterAll(async () => {
  await database?.destroy();
});

const as = (user: User): Actor => actorFromUser(user);

/** An account of Cara's (sold by Abe), in onboarding. */
function carasAccount(): Promise<Account> {
  return createAccount(database.db, { csmId: csm.id, aeId: ae.id });
}

describe('contacts', () => {
  it('loads contacts by account and email, case-insensitively; the same list again changes nothing', async () => {
    const account = await carasAccount();
    const first = await upsertContacts(database.db, {
      actor: as(csm),
      contacts: [
        { accountId: account.id, name: 'Dana Reyes', email: 'Dana@Customer.example', role: 'champion' },
        { accountId: account.id, name: 'Lee Park', email: 'lee@customer.example', role: 'executive_sponsor' },
        { accountId: account.id, name: 'Sam User', email: 'sam@customer.example' },
      ],
    });
    expect(first).toMatchObject({ created: 3, updated: 0, unchanged: 0 });
    expect(first.contacts.map((contact) => contact.role)).toEqual(['champion', 'executive_sponsor', 'user']);

    const again = await upsertContacts(database.db, {
      actor: as(csm),
      contacts: [
        { accountId: account.id, name: 'Dana Reyes', email: 'Dana@Customer.example', role: 'champion' },
        { accountId: account.id, name: 'Lee Park', email: 'lee@customer.example', role: 'executive_sponsor' },
        { accountId: account.id, name: 'Sam User', email: 'sam@customer.example' },
      ],
    });
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 3 });
    expect(again.contacts.map((contact) => contact.updatedAt.getTime())).toEqual(first.contacts.map((contact) => contact.updatedAt.getTime()));

    // The same person in another case is the same contact: their new role is taken, no second row appears.
    const promoted = await upsertContacts(database.db, { actor: as(csm), contacts: [{ accountId: account.id, name: 'Sam User', email: 'SAM@customer.example', role: 'admin' }] });
    expect(promoted).toMatchObject({ created: 0, updated: 1, unchanged: 0 });
    expect(promoted.contacts[0]?.id).toBe(first.contacts[2]?.id);
    const listed = await listContacts(database.db, { reader: as(viewer), accountId: account.id });
    expect(listed?.map((contact) => [contact.name, contact.role])).toEqual([
      ['Dana Reyes', 'champion'],
      ['Lee Park', 'executive_sponsor'],
      ['Sam User', 'admin'],
    ]);
  });

  it('refuses a list naming one person twice for the same account, or a bad email, saying which row', async () => {
    const account = await carasAccount();
    await expect(
      upsertContacts(database.db, {
        actor: as(csm),
        contacts: [
          { accountId: account.id, name: 'A', email: 'twice@customer.example' },
          { accountId: account.id, name: 'B', email: 'TWICE@customer.example' },
        ],
      }),
    ).rejects.toMatchObject({ field: 'contacts[1].email' });
    await expect(upsertContacts(database.db, { actor: as(csm), contacts: [{ accountId: account.id, name: 'A', email: 'not an email' }] })).rejects.toBeInstanceOf(InvalidInputError);
    expect(await listContacts(database.db, { reader: as(csm), accountId: account.id })).toEqual([]);
  });

  it("the account's CSM, their manager and admins change contacts; another CSM, another team's manager, the AE and viewers cannot", async () => {
    const account = await carasAccount();
    const contact = (who: string) => [{ accountId: account.id, name: who, email: `${who.toLowerCase()}@customer.example` }];
    for (const allowed of [csm, manager, admin]) {
      await expect(upsertContacts(database.db, { actor: as(allowed), contacts: contact(allowed.name.split(' ')[0] ?? 'x') })).resolves.toMatchObject({ created: 1 });
    }
    for (const refused of [otherCsm, otherManager, ae, viewer]) {
      const attempt = upsertContacts(database.db, { actor: as(refused), contacts: contact('Refused') });
      await expect(attempt).rejects.toBeInstanceOf(ForbiddenError);
    }
    await expect(upsertContacts(database.db, { actor: as(otherCsm), contacts: contact('Refused') })).rejects.toThrow(/Only .*'s own CSM, their manager or an admin/);
    expect((await listContacts(database.db, { reader: as(admin), accountId: account.id }))?.map((row) => row.name).sort()).toEqual(['Ada', 'Cara', 'Mona']);
  });

  it('contacts are read as the account is: an account executive sees only the accounts they sold', async () => {
    const account = await carasAccount();
    const elsewhere = await createAccount(database.db, { csmId: otherCsm.id });
    await upsertContacts(database.db, { actor: as(admin), contacts: [{ accountId: elsewhere.id, name: 'Hidden', email: 'hidden@elsewhere.example' }] });
    await expect(listContacts(database.db, { reader: as(ae), accountId: account.id })).resolves.toEqual([]);
    await expect(listContacts(database.db, { reader: as(ae), accountId: elsewhere.id })).resolves.toBeNull();
    await expect(listContacts(database.db, { reader: as(viewer), accountId: elsewhere.id })).resolves.toHaveLength(1);
  });
});

describe('a champion who leaves', () => {
  async function firingsOf(accountId: string) {
    return database.db.select().from(ruleFirings).where(and(eq(ruleFirings.accountId, accountId), eq(ruleFirings.rule, 'champion_left')));
  }

  it('fires champion_left once: one alert to the CSM and one run of the Champion left playbook, however often they are marked', async () => {
    const account = await carasAccount();
    const { contacts } = await upsertContacts(database.db, {
      actor: as(csm),
      contacts: [
        { accountId: account.id, name: 'Dana Reyes', email: 'dana@customer.example', role: 'champion' },
        { accountId: account.id, name: 'Sam User', email: 'sam@customer.example', role: 'user' },
      ],
    });
    const [champion, user] = contacts;
    if (!champion || !user) throw new Error('contacts missing');
    const now = new Date();
    const first = await markContactLeft(database.db, { actor: as(csm), contactId: champion.id, leftAt: new Date(now.getTime() - 2 * DAY_MS), now });
    expect(first.firing?.rule).toBe('champion_left');
    expect(first.contact.leftAt?.getTime()).toBe(now.getTime() - 2 * DAY_MS);
    expect(first.contact.leftMarkedBy).toBe(csm.id);
    const second = await markContactLeft(database.db, { actor: as(manager), contactId: champion.id, now: new Date(now.getTime() + 1000) });
    expect(second.firing).toBeNull();
    expect(second.contact.leftMarkedBy).toBe(csm.id);
    // A user leaving is no signal.
    expect((await markContactLeft(database.db, { actor: as(csm), contactId: user.id, now })).firing).toBeNull();

    const firings = await firingsOf(account.id);
    expect(firings).toHaveLength(1);
    expect(firings[0]?.occasion).toBe(champion.id);
    expect(firings[0]?.reason).toContain('champion Dana Reyes (dana@customer.example) left on');
    // The firing starts the default "Champion left" playbook once: its three steps become tasks, the first two the CSM's.
    const made = await database.db.select().from(tasks).where(eq(tasks.accountId, account.id)).orderBy(tasks.dueOn);
    expect(made).toHaveLength(3);
    expect(made.every((task) => task.source === 'playbook' && task.ruleFiringId === firings[0]?.id)).toBe(true);
    expect(new Set(made.map((task) => task.playbookRunId)).size).toBe(1);
    expect(made[0]).toMatchObject({ ownerId: csm.id, title: 'Find the new champion and introduce yourself' });
    const alerts = await database.db.select().from(outbox).where(eq(outbox.dedupeKey, `alert:champion_left:${account.id}:${champion.id}`));
    expect(alerts).toHaveLength(1);
  });

  it('only the CSM, their manager or an admin may mark a contact as left, and never in the future', async () => {
    const account = await carasAccount();
    const { contacts } = await upsertContacts(database.db, { actor: as(csm), contacts: [{ accountId: account.id, name: 'Dana', email: 'dana2@customer.example', role: 'champion' }] });
    const contactId = contacts[0]?.id ?? '';
    for (const refused of [otherCsm, otherManager, viewer]) {
      await expect(markContactLeft(database.db, { actor: as(refused), contactId })).rejects.toBeInstanceOf(ForbiddenError);
    }
    await expect(markContactLeft(database.db, { actor: as(csm), contactId, leftAt: new Date(Date.now() + DAY_MS) })).rejects.toMatchObject({ field: 'leftAt' });
    expect(await firingsOf(account.id)).toEqual([]);
  });

  it('health reasons say "champion left 12 days ago" beside the score, which does not change', async () => {
    const account = await carasAccount();
    await setHealth(database.db, account.id, { score: 55, status: 'at_risk', scoreDayAgo: 58, reasons: ['active users down 20% vs prior 4 weeks'] });
    const { contacts } = await upsertContacts(database.db, { actor: as(csm), contacts: [{ accountId: account.id, name: 'Dana Reyes', email: 'dana3@customer.example', role: 'champion' }] });
    await markContactLeft(database.db, { actor: as(csm), contactId: contacts[0]?.id ?? '', leftAt: new Date(Date.now() - 12 * DAY_MS - 3_600_000) });

    const token = await createToken(database.db, 'viewer', viewer);
    const response = await api.request(
      'query ($id: ID!) { account(id: $id) { health { score reasons } } atRisk(first: 100) { account { id } reasons } accounts(first: 100, orderBy: health) { edges { node { id health { reasons } } } } }',
      { id: account.id },
      token,
    );
    expect(response.body.errors).toBeUndefined();
    const health = (response.body.data?.account as { health: { score: number; reasons: string[] } }).health;
    expect(health).toEqual({ score: 55, reasons: ['active users down 20% vs prior 4 weeks', 'champion left 12 days ago (Dana Reyes)'] });
    const listed = (response.body.data?.atRisk as { account: { id: string }; reasons: string[] }[]).find((item) => item.account.id === account.id);
    expect(listed?.reasons).toContain('champion left 12 days ago (Dana Reyes)');
    // The accounts page reads the departures in its own statement: the same words as the account's own health.
    const edges = (response.body.data?.accounts as { edges: { node: { id: string; health: { reasons: string[] } | null } }[] }).edges;
    expect(edges.find((edge) => edge.node.id === account.id)?.node.health?.reasons).toEqual(health.reasons);
    const [stored] = await database.db.select().from(accountHealth).where(eq(accountHealth.accountId, account.id));
    expect(stored?.score).toBe(55);
    expect(stored?.reasons).toEqual(['active users down 20% vs prior 4 weeks']);
  });

  it('the words count the days from the fact: today, 1 day, 90 days, and not after that', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    expect(championLeftReason({ name: 'Dana', leftAt: new Date('2026-12-07T09:00:00Z') }, now)).toBe('champion left today (Dana)');
    expect(championLeftReason({ name: 'Dana', leftAt: new Date('2026-12-06T09:00:00Z') }, now)).toBe('champion left 1 day ago (Dana)');
    expect(championLeftReason({ name: 'Dana', leftAt: new Date('2026-11-25T12:00:00Z') }, now)).toBe('champion left 12 days ago (Dana)');
  });
});

describe('CSM sentiment', () => {
  it('keeps every set as history, newest first; only the CSM, their manager or an admin may set it', async () => {
    const account = await carasAccount();
    const t0 = new Date('2026-11-01T10:00:00Z');
    await setSentiment(database.db, { actor: as(csm), accountId: account.id, sentiment: 'positive', note: 'Kickoff went well', now: t0 });
    await setSentiment(database.db, { actor: as(manager), accountId: account.id, sentiment: 'neutral', note: '  ', now: new Date(t0.getTime() + DAY_MS) });
    await setSentiment(database.db, { actor: as(admin), accountId: account.id, sentiment: 'negative', note: 'Champion is leaving', now: new Date(t0.getTime() + 2 * DAY_MS) });
    for (const refused of [otherCsm, otherManager, ae, viewer]) {
      await expect(setSentiment(database.db, { actor: as(refused), accountId: account.id, sentiment: 'positive' })).rejects.toBeInstanceOf(ForbiddenError);
    }
    const history = await listSentimentHistory(database.db, { reader: as(ae), accountId: account.id });
    expect(history.map((row) => [row.sentiment, row.note, row.authorId])).toEqual([
      ['negative', 'Champion is leaving', admin.id],
      ['neutral', null, manager.id],
      ['positive', 'Kickoff went well', csm.id],
    ]);
  });

  it('over GraphQL: setSentiment, the current one and the history on the account, beside a score it never changes', async () => {
    const account = await carasAccount();
    await setHealth(database.db, account.id, { score: 81, status: 'healthy', reasons: [] });
    const csmToken = await createToken(database.db, 'csm', csm);
    const set = await api.request(
      'mutation ($id: ID!) { setSentiment(accountId: $id, sentiment: negative, note: "Budget freeze announced") { sentiment note author { name } } }',
      { id: account.id },
      csmToken,
    );
    expect(set.body.errors).toBeUndefined();
    expect(set.body.data?.setSentiment).toEqual({ sentiment: 'negative', note: 'Budget freeze announced', author: { name: 'Cara Csm' } });
    await api.request('mutation ($id: ID!) { setSentiment(accountId: $id, sentiment: neutral) { sentiment } }', { id: account.id }, csmToken);

    const read = await api.request(
      'query ($id: ID!) { account(id: $id) { sentiment { sentiment } sentimentHistory { sentiment note } health { score sentiment { sentiment } } } }',
      { id: account.id },
      csmToken,
    );
    expect(read.body.data?.account).toEqual({
      sentiment: { sentiment: 'neutral' },
      sentimentHistory: [
        { sentiment: 'neutral', note: null },
        { sentiment: 'negative', note: 'Budget freeze announced' },
      ],
      health: { score: 81, sentiment: { sentiment: 'neutral' } },
    });

    const otherToken = await createToken(database.db, 'csm', otherCsm);
    const refused = await api.request('mutation ($id: ID!) { setSentiment(accountId: $id, sentiment: positive) { sentiment } }', { id: account.id }, otherToken);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.body.errors?.[0]?.message).toMatch(/own CSM, their manager or an admin/);
    expect(await database.db.select().from(csmSentiments).where(eq(csmSentiments.accountId, account.id))).toHaveLength(2);
  });
});

describe('contacts over GraphQL', () => {
  it('upsertContacts, Account.contacts, markContactLeft and the NPS answer linked to its contact by email', async () => {
    const account = await carasAccount();
    const csmToken = await createToken(database.db, 'csm', csm);
    const upsert = 'mutation ($rows: [ContactInput!]!) { upsertContacts(contacts: $rows) { created updated unchanged contacts { id name role } } }';
    const rows = [
      { accountId: account.id, name: 'Dana Reyes', email: 'dana@nps.example', role: 'champion' },
      { accountId: account.id, name: 'Lee Park', email: 'lee@nps.example', role: 'executive_sponsor' },
    ];
    const first = await api.request(upsert, { rows }, csmToken);
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data?.upsertContacts).toMatchObject({ created: 2, updated: 0, unchanged: 0 });
    const again = await api.request(upsert, { rows }, csmToken);
    expect(again.body.data?.upsertContacts).toMatchObject({ created: 0, updated: 0, unchanged: 2 });
    const danaId = (first.body.data?.upsertContacts as { contacts: { id: string }[] }).contacts[0]?.id;

    await addSurvey(database.db, account.id, new Date(), { score: 4, daysAgo: 1, email: 'DANA@nps.example' });
    await addSurvey(database.db, account.id, new Date(), { score: 9, daysAgo: 2, email: 'nobody@nps.example' });

    const left = await api.request('mutation ($id: ID!) { markContactLeft(contactId: $id) { championLeftSignal contact { left leftMarkedBy { name } } } }', { id: danaId }, csmToken);
    expect(left.body.errors).toBeUndefined();
    expect(left.body.data?.markContactLeft).toEqual({ championLeftSignal: true, contact: { left: true, leftMarkedBy: { name: 'Cara Csm' } } });
    const leftAgain = await api.request('mutation ($id: ID!) { markContactLeft(contactId: $id) { championLeftSignal } }', { id: danaId }, csmToken);
    expect(leftAgain.body.data?.markContactLeft).toEqual({ championLeftSignal: false });

    const read = await api.request(
      'query ($id: ID!) { account(id: $id) { contacts { name role left surveyResponses { score respondentEmail contact { name } } } } contacts(accountId: $id, includeLeft: false) { name } }',
      { id: account.id },
      csmToken,
    );
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data).toEqual({
      account: {
        contacts: [
          { name: 'Dana Reyes', role: 'champion', left: true, surveyResponses: [{ score: 4, respondentEmail: 'DANA@nps.example', contact: { name: 'Dana Reyes' } }] },
          { name: 'Lee Park', role: 'executive_sponsor', left: false, surveyResponses: [] },
        ],
      },
      contacts: [{ name: 'Lee Park' }],
    });

    const integration = await createToken(database.db, 'integration');
    const recorded = await api.request(
      'mutation ($id: ID!) { recordNps(accountId: $id, score: 3, respondentEmail: "lee@NPS.example", respondedAt: "2026-12-01T10:00:00Z") { score contact { name role } } }',
      { id: account.id },
      integration,
    );
    // An integration token reads no accounts: the answer it sent is recorded, and the contact beside it is refused.
    expect(recorded.body.data?.recordNps).toEqual({ score: 3, contact: null });
    expect(recorded.body.errors?.[0]).toMatchObject({ path: ['recordNps', 'contact'], extensions: { code: 'FORBIDDEN' } });
    const adminToken = await createToken(database.db, 'admin', admin);
    const byAdmin = await api.request(
      'mutation ($id: ID!) { recordNps(accountId: $id, score: 8, respondentEmail: "lee@NPS.example", respondedAt: "2026-12-02T10:00:00Z") { contact { name role } } }',
      { id: account.id },
      adminToken,
    );
    expect(byAdmin.body.data?.recordNps).toEqual({ contact: { name: 'Lee Park', role: 'executive_sponsor' } });
  });

  it('a viewer is refused with what to do, and nothing is written', async () => {
    const account = await carasAccount();
    const viewerToken = await createToken(database.db, 'viewer', viewer);
    const refused = await api.request(
      'mutation ($rows: [ContactInput!]!) { upsertContacts(contacts: $rows) { created } }',
      { rows: [{ accountId: account.id, name: 'X', email: 'x@customer.example' }] },
      viewerToken,
    );
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.body.errors?.[0]?.message).toContain("Ask");
    expect(await listContacts(database.db, { reader: as(admin), accountId: account.id })).toEqual([]);
  });
});
