import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { apiTokens } from '../db/schema.ts';
import { deleteStage } from '../domain/lifecycle/stages.ts';
import { TOKEN_CACHE_TTL_MS, createApiToken, revokeApiTokensNamed } from '../domain/tokens.ts';
import { useTestDatabase } from './support/database.ts';
import { createAccount, createUser } from './support/factories.ts';
import { createGraphqlClient } from './support/graphql.ts';

const ADMIN = 'bootstrap-admin-token-for-admin-tests';
const database = useTestDatabase();
let api: ReturnType<typeof createGraphqlClient>;
const admin = { userId: null, role: 'admin', label: 'Admin token' } as const;

beforeAll(async () => {
  api = createGraphqlClient(database.db, { bootstrapAdminToken: ADMIN });
});

describe('stage definitions', () => {
  it('an admin adds a stage and edits its SLA; the lifecycle lists it in order', async () => {
    const defined = await api.request(
      'mutation { defineStage(input: { key: "renewal_prep", name: "Renewal prep", position: 60, ownerRole: csm, slaDays: 30, entryCriteria: "Window open" }) { key position slaDays } }',
      {},
      ADMIN,
    );
    expect(defined.body).toEqual({ data: { defineStage: { key: 'renewal_prep', position: 60, slaDays: 30 } } });
    const updated = await api.request('mutation { updateStage(input: { key: "renewal_prep", slaDays: 45, name: "Renewal preparation" }) { name slaDays entryCriteria } }', {}, ADMIN);
    expect(updated.body).toEqual({ data: { updateStage: { name: 'Renewal preparation', slaDays: 45, entryCriteria: 'Window open' } } });
    const stages = await api.request('{ stages { key } }', {}, ADMIN);
    expect((stages.body.data as { stages: { key: string }[] }).stages.map((stage) => stage.key)).toEqual([
      'pre_onboarding', 'onboarding', 'implementation', 'early_adoption', 'mature_adoption', 'renewal_prep', 'churned',
    ]);
  });

  it('refuses a taken position or key, naming the field and what to do', async () => {
    const taken = await api.request('mutation { defineStage(input: { key: "extra", name: "Extra", position: 20, ownerRole: csm }) { key } }', {}, ADMIN);
    expect(taken.body.errors?.[0]).toMatchObject({ message: 'Position 20 is already used by Onboarding. Pick a free position (positions need not be consecutive).', extensions: { code: 'BAD_USER_INPUT', field: 'position' } });
    const badKey = await api.request('mutation { defineStage(input: { key: "Go Live", name: "Go live", position: 70, ownerRole: csm }) { key } }', {}, ADMIN);
    expect(badKey.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'key' } });
  });

  it('a stage used by an account or by history is never deleted; an unused one can be', async () => {
    await createAccount(database.db, { stageKey: 'early_adoption' });
    await expect(deleteStage(database.db, { key: 'early_adoption', actor: admin })).rejects.toThrow(/used by 1 account\(s\) and 1 recorded transition\(s\), so it cannot be deleted/);
    await api.request('mutation { defineStage(input: { key: "unused", name: "Unused", position: 75, ownerRole: csm }) { key } }', {}, ADMIN);
    await deleteStage(database.db, { key: 'unused', actor: admin });
    const stages = await api.request('{ stages { key } }', {}, ADMIN);
    expect(JSON.stringify(stages.body)).not.toMatch(/"unused"/);
  });
});

describe('people and tokens', () => {
  it('links a Slack member id, refuses one that is not an id or already taken', async () => {
    const person = await createUser(database.db, { slackUserId: null, name: 'Lena Fischer' });
    const other = await createUser(database.db, { slackUserId: 'U0TAKEN01' });
    const linked = await api.request('mutation ($id: ID!) { linkSlackUser(userId: $id, slackUserId: "U024BE7LH") { slackUserId } }', { id: person.id }, ADMIN);
    expect(linked.body).toEqual({ data: { linkSlackUser: { slackUserId: 'U024BE7LH' } } });
    const notAnId = await api.request('mutation ($id: ID!) { linkSlackUser(userId: $id, slackUserId: "@lena") { slackUserId } }', { id: person.id }, ADMIN);
    expect(notAnId.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'slackUserId' } });
    const taken = await api.request('mutation ($id: ID!) { linkSlackUser(userId: $id, slackUserId: "U0TAKEN01") { slackUserId } }', { id: person.id }, ADMIN);
    expect(taken.body.errors?.[0]?.message).toBe(`Slack user U0TAKEN01 is already linked to ${other.name}. Unlink it there first.`);
    const users = await api.request('{ users(role: csm) { name slackUserId } }', {}, ADMIN);
    expect((users.body.data as { users: { name: string }[] }).users.map((user) => user.name)).toContain('Lena Fischer');
  });

  it('a token is shown once, works, and stops working the moment it is revoked', async () => {
    const created = await api.request('mutation { createApiToken(name: "Salesforce sync", role: integration) { token apiToken { id role } } }', {}, ADMIN);
    const { token, apiToken } = (created.body.data as { createApiToken: { token: string; apiToken: { id: string; role: string } } }).createApiToken;
    expect(apiToken.role).toBe('integration');
    expect((await api.request('{ viewer { role label } }', {}, token)).body.data).toEqual({ viewer: { role: 'integration', label: 'API token "Salesforce sync"' } });
    // Used again at once: now it is answered from this process's token cache, which revoking must empty.
    expect((await api.request('{ viewer { role } }', {}, token)).status).toBe(200);
    const revoked = await api.request('mutation ($id: ID!) { revokeApiToken(tokenId: $id) { revokedAt } }', { id: apiToken.id }, ADMIN);
    expect(revoked.body.errors).toBeUndefined();
    const after = await api.request('{ viewer { role } }', {}, token);
    expect(after.status).toBe(401);
  });

  it('tokens revoked by name (the demo token at start-up) stop working at once in this process', async () => {
    const { token } = await createApiToken(database.db, { name: 'demo-to-revoke', role: 'viewer' });
    expect((await api.request('{ viewer { role } }', {}, token)).status).toBe(200);
    await revokeApiTokensNamed(database.db, 'demo-to-revoke');
    expect((await api.request('{ viewer { role } }', {}, token)).status).toBe(401);
  });

  it(`a token revoked on another replica stops working here within ${TOKEN_CACHE_TTL_MS / 1000} s (the token cache's TTL)`, async () => {
    const { token, record } = await createApiToken(database.db, { name: 'revoked-elsewhere', role: 'viewer' });
    expect((await api.request('{ viewer { role } }', {}, token)).status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      // Another replica revokes it: the row changes, but nothing tells this process's cache.
      await database.db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, record.id));
      vi.setSystemTime(Date.now() + TOKEN_CACHE_TTL_MS - 1_000);
      expect((await api.request('{ viewer { role } }', {}, token)).status).toBe(200);
      vi.setSystemTime(Date.now() + 1_001);
      expect((await api.request('{ viewer { role } }', {}, token)).status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an unknown token is never remembered: a token created after being refused works at once', async () => {
    const { token, record } = await createApiToken(database.db, { name: 'late', role: 'viewer' });
    await database.db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, record.id));
    expect((await api.request('{ viewer { role } }', {}, token)).status).toBe(401);
    await database.db.update(apiTokens).set({ revokedAt: null }).where(eq(apiTokens.id, record.id));
    expect((await api.request('{ viewer { role } }', {}, token)).status).toBe(200);
  });

  it('a CSM token must belong to a person', async () => {
    const response = await api.request('mutation { createApiToken(name: "orphan", role: csm) { token } }', {}, ADMIN);
    expect(response.body.errors?.[0]).toMatchObject({ message: 'A csm token must belong to a person: pass userId.', extensions: { code: 'BAD_USER_INPUT', field: 'userId' } });
  });
});

describe('people', () => {
  const upsert = `mutation ($people: [PersonInput!]!) {
    upsertPeople(people: $people) { created updated people { email name role slackUserId manager { email } } } }`;

  it('an admin loads the team with roles, Slack links and reporting lines; repeating the list changes nothing', async () => {
    const people = [
      { email: 'ivy.chen@people.test', name: 'Ivy Chen', role: 'csm', slackUserId: 'UIVY00001', managerEmail: 'Ruth.Mensah@people.test' },
      { email: 'ruth.mensah@people.test', name: 'Ruth Mensah', role: 'manager' },
      { email: 'omar.haddad@people.test', name: 'Omar Haddad', role: 'ae', managerEmail: 'ruth.mensah@people.test' },
    ];
    const first = await api.request(upsert, { people }, ADMIN);
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data?.upsertPeople).toEqual({
      created: 3,
      updated: 0,
      people: [
        { email: 'ivy.chen@people.test', name: 'Ivy Chen', role: 'csm', slackUserId: 'UIVY00001', manager: { email: 'ruth.mensah@people.test' } },
        { email: 'ruth.mensah@people.test', name: 'Ruth Mensah', role: 'manager', slackUserId: null, manager: null },
        { email: 'omar.haddad@people.test', name: 'Omar Haddad', role: 'ae', slackUserId: null, manager: { email: 'ruth.mensah@people.test' } },
      ],
    });

    // Keyed on email whatever its case; omitted Slack id and manager keep what is there.
    const again = await api.request(upsert, { people: [{ email: 'IVY.CHEN@people.test', name: 'Ivy Chen-Li', role: 'csm' }] }, ADMIN);
    expect(again.body.data?.upsertPeople).toEqual({
      created: 0,
      updated: 1,
      people: [{ email: 'ivy.chen@people.test', name: 'Ivy Chen-Li', role: 'csm', slackUserId: 'UIVY00001', manager: { email: 'ruth.mensah@people.test' } }],
    });
  });

  it('refuses a list that cannot be right, naming the row and field, and saves none of it', async () => {
    const cases: [Record<string, unknown>[], string, RegExp][] = [
      [[{ email: 'nobody-knows@people.test', name: 'N', role: 'csm', managerEmail: 'ghost@people.test' }], 'people[0].managerEmail', /nobody .* has the email ghost@people.test/],
      [[{ email: 'a1@people.test', name: 'A', role: 'csm' }, { email: 'b1@people.test', name: 'B', role: 'csm', managerEmail: 'a1@people.test' }], 'people[1].managerEmail', /is a csm; escalations go to a manager or an admin/],
      [[{ email: 'self@people.test', name: 'S', role: 'manager', managerEmail: 'SELF@people.test' }], 'people[0].managerEmail', /cannot be their own manager/],
      [[{ email: 'twice@people.test', name: 'T', role: 'csm' }, { email: 'Twice@people.test', name: 'T', role: 'csm' }], 'people[1].email', /appears twice/],
      [[{ email: 'not-an-email', name: 'X', role: 'csm' }], 'people[0].email', /must be an email address/],
      [[{ email: 'slack@people.test', name: 'X', role: 'csm', slackUserId: 'UIVY00001' }], 'people[0].slackUserId', /already linked to ivy.chen@people.test/],
    ];
    for (const [people, field, message] of cases) {
      const refused = await api.request(upsert, { people }, ADMIN);
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(refused.body.errors?.[0]?.message).toMatch(message);
    }
    const listed = await api.request('{ users { email } }', {}, ADMIN);
    const emails = (listed.body.data?.users as { email: string }[]).map((user) => user.email);
    expect(emails.filter((email) => /^(nobody-knows|a1|b1|self|twice|slack)@/.test(email))).toEqual([]);

    const manager = await createUser(database.db, { role: 'manager' });
    const token = await createApiToken(database.db, { name: 'manager', role: 'manager', userId: manager.id });
    const forbidden = await api.request(upsert, { people: [{ email: 'm@people.test', name: 'M', role: 'csm' }] }, token.token);
    expect(forbidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
