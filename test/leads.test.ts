import { and, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Account, type Lead, type User, accounts, leads, outbox, ruleFirings } from '../db/schema.ts';
import { type Actor, actorFromUser } from '../domain/actors.ts';
import { ForbiddenError, InvalidInputError } from '../domain/errors.ts';
import { recordClosedWon } from '../domain/handoffs/closed-won.ts';
import { acceptLead, declineLead, leadMetrics, listLeads, markLeadLost, qualifyLead } from '../domain/leads.ts';
import { recordRevenueChange } from '../domain/revenue.ts';
import { userTarget } from '../domain/notifications.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createToken, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

// Every expected number below is worked out by hand in the comments next to the data. ARR = 12 × MRR throughout.

const database = useTestDatabase();
const admin: Actor = { userId: null, role: 'admin', label: 'Test admin' };
const crm: Actor = { userId: null, role: 'integration', label: 'CRM' };
let csm: User;
let otherCsm: User;
let ae: User;
let otherAe: User;
let manager: User;
const book = new Map<string, Account>();
const made = new Map<string, Lead>();

const at = (iso: string) => new Date(iso);
const of = (name: string) => {
  const account = book.get(name);
  if (!account) throw new Error(name);
  return account;
};
const lead = (name: string) => {
  const found = made.get(name);
  if (!found) throw new Error(name);
  return found;
};

async function customer(name: string, mrrCents: number): Promise<Account> {
  const account = await createAccount(database.db, { name, csmId: csm.id, aeId: ae.id, stageKey: 'mature_adoption', arrCents: mrrCents * 12 });
  await database.db.update(accounts).set({ externalId: `crm-${name}` }).where(eq(accounts.id, account.id));
  await recordRevenueChange(database.db, { accountId: account.id, kind: 'new', mrrDeltaCents: mrrCents, effectiveDate: '2025-06-01', actor: admin });
  book.set(name, account);
  return account;
}

/** An expansion signal as the rule records it. */
async function signal(account: Account, firedAt: string): Promise<number> {
  const [firing] = await database.db
    .insert(ruleFirings)
    .values({ rule: 'expansion_signal', accountId: account.id, occasion: firedAt.slice(0, 7), reason: 'advanced-feature events up 80%', firedAt: at(firedAt) })
    .returning();
  if (!firing) throw new Error('no firing');
  return firing.id;
}

/** A deal of an existing customer: the new ARR it brings, closed on a day. */
function closedWon(name: string, opportunityId: string, newMrrCents: number, closedAt: string) {
  return recordClosedWon(database.db, {
    opportunityId,
    account: { externalId: `crm-${name}`, name, segment: 'mid_market', arrCents: newMrrCents * 12, contractStart: null, contractEnd: null },
    closedWonAt: at(closedAt),
    context: {},
    actor: crm,
  });
}

const asCsm = () => actorFromUser(csm);
const asAe = () => actorFromUser(ae);

beforeAll(async () => {
  csm = await createUser(database.db, { role: 'csm', name: 'Casey CSM' });
  otherCsm = await createUser(database.db, { role: 'csm', name: 'Olive Other' });
  ae = await createUser(database.db, { role: 'ae', name: 'Alex AE' });
  otherAe = await createUser(database.db, { role: 'ae', name: 'Avery Other' });
  manager = await createUser(database.db, { role: 'manager', name: 'Morgan Manager' });
  //                                     MRR before
  await customer('Alder', 10_000); //   10,000
  await customer('Birch', 20_000); //   20,000
  await customer('Cedar', 5_000);
  await customer('Dogwood', 5_000);
  await customer('Elm', 30_000); //     30,000

  // Alder: signal 1 Mar, qualified 2 Mar, accepted 3 Mar, won 21 Mar at MRR 15,000 → +5,000, 20 days from signal.
  const alderSignal = await signal(of('Alder'), '2026-03-01T00:00:00Z');
  made.set('Alder', (await qualifyLead(database.db, { firingId: alderSignal, wants: 'Fifty more seats', estimatedMrrCents: 6_000, urgency: 'high', actor: asCsm(), now: at('2026-03-02T00:00:00Z') })).lead);
  await acceptLead(database.db, { leadId: lead('Alder').id, actor: asAe(), now: at('2026-03-03T00:00:00Z') });
  // Birch: by hand 5 Mar (its signal), never accepted, won 14 Apr at MRR 30,000 → +10,000, 40 days.
  made.set('Birch', (await qualifyLead(database.db, { accountId: of('Birch').id, wants: 'The analytics add-on', estimatedMrrCents: 8_000, urgency: 'medium', actor: asCsm(), now: at('2026-03-05T00:00:00Z') })).lead);
  // Cedar: signal 10 Mar, qualified 11 Mar, declined 12 Mar.
  const cedarSignal = await signal(of('Cedar'), '2026-03-10T00:00:00Z');
  made.set('Cedar', (await qualifyLead(database.db, { firingId: cedarSignal, wants: 'SSO', estimatedMrrCents: 1_000, urgency: 'low', actor: asCsm(), now: at('2026-03-11T00:00:00Z') })).lead);
  await declineLead(database.db, { leadId: lead('Cedar').id, reason: 'SSO is already in their plan', actor: asAe(), now: at('2026-03-12T00:00:00Z') });
  // Dogwood: by hand 15 Mar, accepted 16 Mar, lost 20 Mar.
  made.set('Dogwood', (await qualifyLead(database.db, { accountId: of('Dogwood').id, wants: 'A second workspace', estimatedMrrCents: 2_000, urgency: 'low', actor: asCsm(), now: at('2026-03-15T00:00:00Z') })).lead);
  await acceptLead(database.db, { leadId: lead('Dogwood').id, actor: asAe(), now: at('2026-03-16T00:00:00Z') });
  await markLeadLost(database.db, { leadId: lead('Dogwood').id, reason: 'Budget frozen until next year', actor: asAe(), now: at('2026-03-20T00:00:00Z') });
  // Elm: signal 20 Feb, qualified 25 Feb, accepted 1 Mar (by a manager), won 31 Mar 12:00 at MRR 40,000 → +10,000, 39.5 days.
  const elmSignal = await signal(of('Elm'), '2026-02-20T00:00:00Z');
  made.set('Elm', (await qualifyLead(database.db, { firingId: elmSignal, wants: 'Enterprise tier', estimatedMrrCents: 12_000, urgency: 'high', actor: asCsm(), now: at('2026-02-25T00:00:00Z') })).lead);
  await acceptLead(database.db, { leadId: lead('Elm').id, actor: actorFromUser(manager), now: at('2026-03-01T00:00:00Z') });

  await closedWon('Alder', 'opp-alder', 15_000, '2026-03-21T00:00:00Z');
  await closedWon('Elm', 'opp-elm', 40_000, '2026-03-31T12:00:00Z');
  await closedWon('Birch', 'opp-birch', 30_000, '2026-04-14T00:00:00Z');
});

async function reload(name: string): Promise<Lead> {
  const [row] = await database.db.select().from(leads).where(eq(leads.id, lead(name).id));
  if (!row) throw new Error(name);
  return row;
}

describe('expansion leads', () => {
  it('goes qualified → accepted or declined → won or lost, keeping who and why', async () => {
    expect(await reload('Alder')).toMatchObject({ status: 'won', wonOpportunityId: 'opp-alder', wonMrrCents: 5_000, aeId: ae.id, createdBy: csm.id });
    expect(await reload('Birch')).toMatchObject({ status: 'won', wonOpportunityId: 'opp-birch', wonMrrCents: 10_000, acceptedAt: null });
    expect(await reload('Cedar')).toMatchObject({ status: 'declined', declineReason: 'SSO is already in their plan', declinedBy: ae.id });
    expect(await reload('Dogwood')).toMatchObject({ status: 'lost', lostReason: 'Budget frozen until next year', lostBy: ae.id });
    expect(await reload('Elm')).toMatchObject({ status: 'won', wonMrrCents: 10_000, acceptedBy: manager.id });
  });

  it('makes one lead of one signal, however often it is qualified', async () => {
    const account = await customer('Fir', 1_000);
    const firing = await signal(account, '2026-05-01T00:00:00Z');
    const params = { firingId: firing, wants: 'More seats', estimatedMrrCents: 500, urgency: 'low' as const, actor: asCsm() };
    const [first, second] = await Promise.all([qualifyLead(database.db, params), qualifyLead(database.db, params)]);
    expect([first.created, second.created].sort()).toEqual([false, true]);
    expect(first.lead.id).toBe(second.lead.id);
    expect(await database.db.select().from(leads).where(eq(leads.firingId, firing))).toHaveLength(1);
    // Handed once to the AE.
    const handed = await database.db.select().from(outbox).where(and(eq(outbox.kind, 'lead_handed'), eq(outbox.messageKey, `lead:${first.lead.id}`)));
    expect(handed).toHaveLength(1);
    expect(handed[0]?.target).toBe(userTarget(ae.id));
  });

  it('closes one lead per deal, once', async () => {
    const account = await customer('Gum', 10_000);
    const older = await qualifyLead(database.db, { accountId: account.id, wants: 'Add-on A', estimatedMrrCents: 1_000, urgency: 'low', actor: asCsm(), now: at('2026-05-01T00:00:00Z') });
    const newer = await qualifyLead(database.db, { accountId: account.id, wants: 'Add-on B', estimatedMrrCents: 1_000, urgency: 'low', actor: asCsm(), now: at('2026-05-02T00:00:00Z') });
    // The accepted lead goes first, even when it is the newer one.
    await acceptLead(database.db, { leadId: newer.lead.id, actor: asAe() });
    await closedWon('Gum', 'opp-gum', 12_000, '2026-05-10T00:00:00Z');
    await closedWon('Gum', 'opp-gum', 12_000, '2026-05-10T00:00:00Z');
    const rows = await database.db.select().from(leads).where(eq(leads.accountId, account.id));
    expect(rows.find((row) => row.id === newer.lead.id)).toMatchObject({ status: 'won', wonOpportunityId: 'opp-gum', wonMrrCents: 2_000 });
    expect(rows.find((row) => row.id === older.lead.id)).toMatchObject({ status: 'qualified', wonOpportunityId: null });
    // The CSM heard about the win once.
    const outcomes = await database.db.select().from(outbox).where(eq(outbox.dedupeKey, `lead_outcome:${newer.lead.id}:won`));
    expect(outcomes.map((row) => row.target)).toEqual([userTarget(csm.id)]);
  });

  it('lets only the right people act, and says who can', async () => {
    const account = await customer('Hazel', 1_000);
    const firing = await signal(account, '2026-05-03T00:00:00Z');
    const params = { firingId: firing, wants: 'More seats', estimatedMrrCents: 500, urgency: 'medium' as const };
    await expect(qualifyLead(database.db, { ...params, actor: actorFromUser(otherCsm) })).rejects.toThrowError(/Only the account's CSM \(Casey CSM\), their manager or an admin/);
    await expect(qualifyLead(database.db, { ...params, actor: asAe() })).rejects.toThrowError(ForbiddenError);
    const { lead: hazel } = await qualifyLead(database.db, { ...params, actor: actorFromUser(manager) });
    await expect(acceptLead(database.db, { leadId: hazel.id, actor: actorFromUser(otherAe) })).rejects.toThrowError(/Only the account's account executive \(Alex AE\)/);
    await expect(acceptLead(database.db, { leadId: hazel.id, actor: asCsm() })).rejects.toThrowError(ForbiddenError);
    await expect(declineLead(database.db, { leadId: hazel.id, reason: '  ', actor: asAe() })).rejects.toThrowError(InvalidInputError);
    await expect(markLeadLost(database.db, { leadId: hazel.id, reason: 'No budget', actor: asAe() })).rejects.toThrowError(/cannot be marked lost: it is waiting for the account executive/);
    await expect(qualifyLead(database.db, { accountId: account.id, wants: '', estimatedMrrCents: 100, urgency: 'low', actor: asCsm() })).rejects.toThrowError(/what the customer wants/);
    await expect(qualifyLead(database.db, { accountId: account.id, wants: 'x', estimatedMrrCents: -1, urgency: 'low', actor: asCsm() })).rejects.toThrowError(/cannot be negative/);
  });

  it('lists leads as the reader may see them, a page at a time', async () => {
    const all = await listLeads(database.db, { reader: admin, first: 100 });
    expect(all.items.length).toBeGreaterThanOrEqual(5);
    const page1 = await listLeads(database.db, { reader: admin, first: 2 });
    const { leadCursor } = await import('../domain/leads.ts');
    const last = page1.items.at(-1);
    if (!last) throw new Error('empty page');
    const page2 = await listLeads(database.db, { reader: admin, first: 2, after: leadCursor(last) });
    expect(page1.hasNextPage).toBe(true);
    expect(page2.items.map((row) => row.id)).toEqual(all.items.slice(2, 4).map((row) => row.id));
    const won = await listLeads(database.db, { reader: admin, status: 'won', first: 100 });
    expect(won.items.every((row) => row.status === 'won')).toBe(true);
    expect(await listLeads(database.db, { reader: actorFromUser(otherAe), first: 100 })).toMatchObject({ items: [] });
  });

  it('measures leads by hand-computed numbers', async () => {
    // March: created Alder 2, Birch 5, Cedar 11, Dogwood 15 = 4 (Elm was 25 Feb); accepted Alder 3, Dogwood 16, Elm 1 = 3;
    // won Alder 21 (+5,000, 20 days) and Elm 31 (+10,000, 39.5 days) = 2, 15,000, median (20 + 39.5) / 2 = 29.75 → 29.8.
    expect(await leadMetrics(database.db, { from: '2026-03-01', to: '2026-03-31', reader: admin })).toEqual({
      from: '2026-03-01',
      to: '2026-03-31',
      created: 4,
      accepted: 3,
      won: 2,
      expansionMrrCents: 15_000,
      medianDaysSignalToWon: 29.8,
    });
    // April: Birch won 14 Apr, +10,000, 40 days from its hand qualification on 5 Mar.
    expect(await leadMetrics(database.db, { from: '2026-04-01', to: '2026-04-30', reader: admin })).toEqual({
      from: '2026-04-01',
      to: '2026-04-30',
      created: 0,
      accepted: 0,
      won: 1,
      expansionMrrCents: 10_000,
      medianDaysSignalToWon: 40,
    });
    await expect(leadMetrics(database.db, { from: '2026-03-01', to: '2026-03-31', reader: asCsm() })).rejects.toThrowError(ForbiddenError);
  });
});

describe('leads over GraphQL', () => {
  it('qualifies, accepts, declines, marks lost, lists and measures through the API', async () => {
    const api = createGraphqlClient(database.db);
    const csmToken = await createToken(database.db, 'csm', csm);
    const aeToken = await createToken(database.db, 'ae', ae);
    const otherAeToken = await createToken(database.db, 'ae', otherAe);
    const managerToken = await createToken(database.db, 'manager', manager);
    const account = await customer('Ivy', 2_000);
    const firing = await signal(account, '2026-06-01T00:00:00Z');

    const qualify = `mutation ($input: QualifyLeadInput!) { qualifyLead(input: $input) { created lead { id status urgency estimatedMrrCents firingId account { name } } } }`;
    const input = { firingId: String(firing), wants: 'Premium support', estimatedMrrCents: 40_000, urgency: 'high' };
    const first = await api.request(qualify, { input }, csmToken);
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data?.qualifyLead).toMatchObject({ created: true, lead: { status: 'qualified', urgency: 'high', estimatedMrrCents: 40_000, firingId: String(firing), account: { name: 'Ivy' } } });
    const again = await api.request(qualify, { input }, csmToken);
    expect(again.body.data?.qualifyLead).toMatchObject({ created: false });
    const leadId = String(Reflect.get(Reflect.get(first.body.data?.qualifyLead ?? {}, 'lead') ?? {}, 'id'));

    const refused = await api.request('mutation ($id: ID!) { acceptLead(leadId: $id) { status } }', { id: leadId }, otherAeToken);
    expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(refused.body.errors?.[0]?.message).toMatch(/Only the account's account executive \(Alex AE\)/);
    const accepted = await api.request('mutation ($id: ID!) { acceptLead(leadId: $id) { status acceptedAt } }', { id: leadId }, aeToken);
    expect(accepted.body.data?.acceptLead).toMatchObject({ status: 'accepted' });
    const lost = await api.request('mutation ($id: ID!, $reason: String!) { markLeadLost(leadId: $id, reason: $reason) { status lostReason } }', { id: leadId, reason: 'Chose a partner' }, aeToken);
    expect(lost.body.data?.markLeadLost).toEqual({ status: 'lost', lostReason: 'Chose a partner' });

    const byHand = await api.request(qualify, { input: { accountId: account.id, wants: 'Training', estimatedMrrCents: 1_000, urgency: 'low' } }, csmToken);
    const byHandId = String(Reflect.get(Reflect.get(byHand.body.data?.qualifyLead ?? {}, 'lead') ?? {}, 'id'));
    const declined = await api.request('mutation ($id: ID!, $reason: String!) { declineLead(leadId: $id, reason: $reason) { status declineReason } }', { id: byHandId, reason: 'Included already' }, aeToken);
    expect(declined.body.data?.declineLead).toEqual({ status: 'declined', declineReason: 'Included already' });

    const listed = await api.request('query ($id: ID) { leads(accountId: $id, first: 10) { edges { node { id status } } pageInfo { hasNextPage } } }', { id: account.id }, aeToken);
    expect(listed.body.data?.leads).toMatchObject({ edges: [{ node: { id: byHandId, status: 'declined' } }, { node: { id: leadId, status: 'lost' } }], pageInfo: { hasNextPage: false } });
    const hidden = await api.request('query ($id: ID) { leads(accountId: $id) { edges { node { id } } } }', { id: account.id }, otherAeToken);
    expect(hidden.body.data?.leads).toEqual({ edges: [] });

    const metricsQuery = '{ leadMetrics(from: "2026-03-01", to: "2026-03-31") { created accepted won expansionMrrCents medianDaysSignalToWon } }';
    const metrics = await api.request(metricsQuery, {}, managerToken);
    expect(metrics.body.data?.leadMetrics).toEqual({ created: 4, accepted: 3, won: 2, expansionMrrCents: 15_000, medianDaysSignalToWon: 29.8 });
    const forbidden = await api.request(metricsQuery, {}, csmToken);
    expect(forbidden.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });
});
