import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { type SlackEmailLookup, type User, slackEmailLookups, users } from '../db/schema.ts';
import { SlackLinkRefusedError } from '../domain/errors.ts';
import { linkPersonToSlack } from '../domain/people-links.ts';
import { importFile } from '../import/run.ts';
import type { TestDatabase } from './support/database.ts';
import type { FakeSlack } from './support/fake-slack.ts';
import { createToken, createUser } from './support/factories.ts';
import { slashCommand, type SlackRequestClient } from './support/slack-requests.ts';
import { textOf } from './support/slack-answers.ts';
import { type SlackHarness, useSlackHarness } from './support/slack-harness.ts';

let harness: SlackHarness;
let database: TestDatabase;
let fake: FakeSlack;
let slack: SlackRequestClient;
let adminToken: string;

// The members the fake Slack knows by email; an email it does not know gets a member of its own, so a test that
// wants `users_not_found` says so.
useSlackHarness(
  {
    fakeSlack: {
      users: [
        { id: 'UDANA0001', email: 'dana.reyes@acme.test', name: 'dana' },
        { id: 'UTAKEN001', email: 'taken@acme.test', name: 'taken' },
        { id: 'UIMPORT01', email: 'imported@acme.test', name: 'imported' },
        { id: 'USELF0001', email: 'Self.Service@Acme.test', name: 'self' },
        { id: 'UNOMATCH1', email: 'nobody-here@acme.test', name: 'nobody' },
        { id: 'USELF0002', email: 'already@acme.test', name: 'already' },
        { id: 'UNOEMAIL1', email: '', name: 'noemail' },
      ],
    },
  },
  async (started) => {
    harness = started;
    ({ database, fake, slack } = started);
    adminToken = await createToken(database.db, 'admin');
  },
);

async function graphql(query: string, variables: Record<string, unknown>) {
  const response = await fetch(`${harness.lifeline.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
  expect(body.errors).toBeUndefined();
  return body.data ?? {};
}

async function runLinkJob(): Promise<Record<string, number>> {
  const data = await graphql('mutation ($name: String!) { runJob(name: $name) { status error counts { name value } } }', { name: 'slack_links' });
  const run = data.runJob as { status: string; error: string | null; counts: { name: string; value: number }[] };
  expect(run.error).toBeNull();
  expect(run.status).toBe('succeeded');
  return Object.fromEntries(run.counts.map((count) => [count.name, count.value]));
}

async function personByEmail(email: string): Promise<User> {
  const [person] = await database.db.select().from(users).where(eq(sql`lower(${users.email})`, email.toLowerCase()));
  if (!person) throw new Error(`nobody has ${email}`);
  return person;
}

async function lookupOf(userId: string): Promise<SlackEmailLookup | undefined> {
  const [row] = await database.db.select().from(slackEmailLookups).where(eq(slackEmailLookups.userId, userId));
  return row;
}

const UPSERT_PEOPLE = 'mutation ($people: [PersonInput!]!) { upsertPeople(people: $people) { created updated people { email slackUserId } } }';

describe('people given with an email and no Slack id', () => {
  it('are linked by the slack_links job after ingestion, which itself never calls Slack', async () => {
    const holder = await createUser(database.db, { name: 'Holder', email: 'holder@acme.test', slackUserId: 'UTAKEN001' });
    fake.failWhen('users.lookupByEmail', (call) => (call.body.email === 'ghost@acme.test' ? { error: 'users_not_found' } : undefined));

    const data = await graphql(UPSERT_PEOPLE, {
      people: [
        { email: 'Dana.Reyes@acme.test', name: 'Dana Reyes', role: 'csm' },
        { email: 'ghost@acme.test', name: 'Gus Ghost', role: 'csm' },
        { email: 'taken@acme.test', name: 'Tia Taken', role: 'ae' },
      ],
    });
    expect(data.upsertPeople).toMatchObject({ created: 3, people: [{ slackUserId: null }, { slackUserId: null }, { slackUserId: null }] });
    // Ingestion only queued the lookups.
    expect(fake.callsTo('users.lookupByEmail')).toHaveLength(0);
    const dana = await personByEmail('dana.reyes@acme.test');
    expect(await lookupOf(dana.id)).toMatchObject({ status: 'pending' });

    expect(await runLinkJob()).toMatchObject({ linked: 1, notFound: 1, refused: 1, retried: 0 });

    expect((await personByEmail('dana.reyes@acme.test')).slackUserId).toBe('UDANA0001');
    expect(await lookupOf(dana.id)).toMatchObject({ status: 'linked', slackUserId: 'UDANA0001' });

    // Slack does not know the ghost: recorded, left unlinked.
    const ghost = await personByEmail('ghost@acme.test');
    expect(ghost.slackUserId).toBeNull();
    expect(await lookupOf(ghost.id)).toMatchObject({ status: 'not_found', lastError: expect.stringContaining('users_not_found') });

    // Slack's member for taken@ is already Holder's: refused, Holder keeps the link.
    const taken = await personByEmail('taken@acme.test');
    expect(taken.slackUserId).toBeNull();
    expect(await lookupOf(taken.id)).toMatchObject({ status: 'refused', slackUserId: 'UTAKEN001', lastError: expect.stringContaining('already linked to Holder') });
    expect((await personByEmail(holder.email)).slackUserId).toBe('UTAKEN001');

    // Admins read what each lookup came to beside the person.
    const read = await graphql('{ users { email slackUserId slackEmailLookup { status slackUserId error } } }', {});
    const byEmail = new Map((read.users as { email: string; slackEmailLookup: unknown }[]).map((person) => [person.email, person.slackEmailLookup]));
    expect(byEmail.get('Dana.Reyes@acme.test')).toMatchObject({ status: 'linked', slackUserId: 'UDANA0001', error: null });
    expect(byEmail.get('ghost@acme.test')).toMatchObject({ status: 'not_found', error: expect.stringContaining('users_not_found') });
    expect(byEmail.get('taken@acme.test')).toMatchObject({ status: 'refused', slackUserId: 'UTAKEN001' });
    expect(byEmail.get(holder.email)).toBeNull();

    // Neither is asked about again: not by the next run, not when the same list is sent again.
    const asked = fake.callsTo('users.lookupByEmail').length;
    expect(asked).toBe(3);
    await graphql(UPSERT_PEOPLE, {
      people: [
        { email: 'ghost@acme.test', name: 'Gus Ghost', role: 'csm' },
        { email: 'taken@acme.test', name: 'Tia Taken', role: 'ae' },
      ],
    });
    expect(await runLinkJob()).toMatchObject({ linked: 0, notFound: 0, refused: 0 });
    expect(fake.callsTo('users.lookupByEmail')).toHaveLength(asked);
  });

  it('a Slack outage is retried later, and gives up after a few attempts instead of asking forever', async () => {
    fake.failWhen('users.lookupByEmail', () => ({ status: 500 }));
    await graphql(UPSERT_PEOPLE, { people: [{ email: 'outage@acme.test', name: 'Olu Outage', role: 'csm' }] });
    const person = await personByEmail('outage@acme.test');

    expect(await runLinkJob()).toMatchObject({ linked: 0, retried: 1 });
    const afterOne = await lookupOf(person.id);
    expect(afterOne).toMatchObject({ status: 'pending', attempts: 1 });
    expect(afterOne?.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
    // Not due yet: the next run leaves it alone.
    expect(await runLinkJob()).toMatchObject({ retried: 0 });

    for (let attempt = 2; attempt <= 5; attempt += 1) {
      await database.db.update(slackEmailLookups).set({ nextAttemptAt: new Date(0) }).where(eq(slackEmailLookups.userId, person.id));
      await runLinkJob();
    }
    expect(await lookupOf(person.id)).toMatchObject({ status: 'failed', attempts: 5, lastError: expect.stringContaining('Gave up after 5 attempts') });
    expect((await personByEmail('outage@acme.test')).slackUserId).toBeNull();
  });

  it('when Slack says to wait (429), the whole batch waits as told without counting an attempt', async () => {
    await graphql(UPSERT_PEOPLE, {
      people: [
        { email: 'wait-one@acme.test', name: 'Wyn One', role: 'csm' },
        { email: 'wait-two@acme.test', name: 'Wyn Two', role: 'csm' },
      ],
    });
    fake.failNext('users.lookupByEmail', { status: 429, retryAfterSeconds: 30 });
    expect(await runLinkJob()).toMatchObject({ linked: 0, retried: 2 });
    expect(fake.callsTo('users.lookupByEmail')).toHaveLength(1);
    for (const email of ['wait-one@acme.test', 'wait-two@acme.test']) {
      const lookup = await lookupOf((await personByEmail(email)).id);
      expect(lookup).toMatchObject({ status: 'pending', attempts: 0 });
      expect(lookup?.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 20_000);
    }
  });

  it('the people import queues them the same way', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'lifeline-links-'));
    try {
      const file = join(scratch, 'people.csv');
      await writeFile(file, 'email,name,role,slackUserId,managerEmail\nimported@acme.test,Ines Imported,csm,,\n');
      const summary = await importFile({ kind: 'people', file, target: { kind: 'local', db: database.db }, onRefusal: () => undefined });
      expect(summary.written).toBe(1);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    expect(fake.callsTo('users.lookupByEmail')).toHaveLength(0);
    expect(await runLinkJob()).toMatchObject({ linked: 1 });
    expect((await personByEmail('imported@acme.test')).slackUserId).toBe('UIMPORT01');
  });

  it('linkPersonToSlack refuses a Slack id linked to someone else, and never replaces a different link', async () => {
    const owner = await createUser(database.db, { name: 'Owner', email: 'owner@acme.test', slackUserId: 'UOWNER001' });
    const other = await createUser(database.db, { name: 'Other', email: 'other@acme.test', slackUserId: null });
    const linkedElsewhere = await createUser(database.db, { name: 'Elsewhere', email: 'elsewhere@acme.test', slackUserId: 'UELSE0001' });

    await expect(linkPersonToSlack(database.db, { personId: other.id, slackUserId: 'UOWNER001', source: 'email_lookup' })).rejects.toMatchObject({
      reason: 'slack_id_taken',
    });
    await expect(linkPersonToSlack(database.db, { email: 'ELSEWHERE@acme.test', slackUserId: 'UNEW00001', source: 'email_lookup' })).rejects.toBeInstanceOf(
      SlackLinkRefusedError,
    );
    expect((await personByEmail(owner.email)).slackUserId).toBe('UOWNER001');
    expect((await personByEmail(other.email)).slackUserId).toBeNull();
    expect((await personByEmail(linkedElsewhere.email)).slackUserId).toBe('UELSE0001');
    // The same link again is no change.
    expect(await linkPersonToSlack(database.db, { personId: owner.id, slackUserId: 'UOWNER001', source: 'email_lookup' })).toMatchObject({ linked: false });
  });
});

describe('/lifeline from a Slack user who is not linked', () => {
  it('links them by their Slack profile email (any case) when it is one person, then answers the command', async () => {
    const person = await createUser(database.db, { name: 'Sade Self', email: 'self.service@acme.test', role: 'csm', slackUserId: null });

    await slack.command(slashCommand({ text: 'tasks', user_id: 'USELF0001', response_url: fake.responseUrl('self-link') }));
    const [answer] = await fake.waitForCalls('response_url', 1);

    expect(fake.callsTo('users.info').map((call) => call.body.user)).toEqual(['USELF0001']);
    expect((await personByEmail(person.email)).slackUserId).toBe('USELF0001');
    expect(answer?.body.response_type).toBe('ephemeral');
    expect(textOf(answer)).not.toMatch(/not linked/);
    expect(JSON.stringify(answer?.body)).toMatch(/task/i);

    // Linked now: the next command does not ask Slack again.
    await slack.command(slashCommand({ text: 'help', user_id: 'USELF0001', response_url: fake.responseUrl('self-again') }));
    await fake.waitForCalls('response_url', 2);
    expect(fake.callsTo('users.info')).toHaveLength(1);
  });

  it('with no Lifeline person for their email, tells them ephemerally to ask an admin to add them with it', async () => {
    await slack.command(slashCommand({ text: 'account Acme', user_id: 'UNOMATCH1', response_url: fake.responseUrl('no-match') }));
    const [answer] = await fake.waitForCalls('response_url', 1);
    expect(answer?.body.response_type).toBe('ephemeral');
    expect(textOf(answer)).toMatch(/not linked to Lifeline/);
    expect(textOf(answer)).toMatch(/nobody-here@acme\.test/);
    expect(textOf(answer)).toMatch(/Ask a Lifeline admin to add you with this email/);
  });

  it('when their email is a person already linked to another Slack user, refuses ephemerally and changes nothing', async () => {
    const person = await createUser(database.db, { name: 'Al Ready', email: 'already@acme.test', slackUserId: 'UOTHER001' });
    await slack.command(slashCommand({ text: 'tasks', user_id: 'USELF0002', response_url: fake.responseUrl('elsewhere') }));
    const [answer] = await fake.waitForCalls('response_url', 1);
    expect(answer?.body.response_type).toBe('ephemeral');
    expect(textOf(answer)).toMatch(/already linked to another Slack user/);
    expect((await personByEmail(person.email)).slackUserId).toBe('UOTHER001');
  });

  it('when Slack cannot say who they are, answers that their account is not linked', async () => {
    fake.failNext('users.info', { status: 500 });
    await slack.command(slashCommand({ text: 'tasks', user_id: 'USELF0003', response_url: fake.responseUrl('info-down') }));
    const [answer] = await fake.waitForCalls('response_url', 1);
    expect(answer?.body.response_type).toBe('ephemeral');
    expect(textOf(answer)).toMatch(/Your Slack account is not linked to Lifeline yet/);
  });

  it('with no email on their Slack profile, says Lifeline cannot tell who they are', async () => {
    await slack.command(slashCommand({ text: 'tasks', user_id: 'UNOEMAIL1', response_url: fake.responseUrl('no-email') }));
    const [answer] = await fake.waitForCalls('response_url', 1);
    expect(answer?.body.response_type).toBe('ephemeral');
    expect(textOf(answer)).toMatch(/no email Lifeline can read/);
  });
});
