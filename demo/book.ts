import { ensureInstallDefaults } from '../domain/install-defaults.ts';
import { asc, count, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type Segment, type User, type UserRole, accountHealth, accounts, users as usersTable } from '../db/schema.ts';
import { actorFromUser, ruleActor, systemReader } from '../domain/actors.ts';
import { createAccount } from '../domain/accounts/create.ts';
import { moveAccountStage } from '../domain/lifecycle/moves.ts';
import { defaultStages } from '../domain/lifecycle/stages.ts';
import { listPlaybookRunsByAccountIds, startPlaybook } from '../domain/plays/playbook-runs.ts';
import { createUser } from '../domain/users.ts';
import { seedDemoPeople } from './people.ts';
import { type DemoAccount, closeDemoDeal, seedDemoSignals } from './signals.ts';
import { DAY_MS } from '../domain/dates.ts';

const people: { name: string; email: string; role: UserRole; slackUserId: string }[] = [
  { name: 'Alex Rivera', email: 'alex@lifeline.example', role: 'admin', slackUserId: 'U0DEMOADM1' },
  { name: 'Maya Patel', email: 'maya@lifeline.example', role: 'manager', slackUserId: 'U0DEMOMGR1' },
  { name: 'Sam Okafor', email: 'sam@lifeline.example', role: 'csm', slackUserId: 'U0DEMOCSM1' },
  { name: 'Lena Fischer', email: 'lena@lifeline.example', role: 'csm', slackUserId: 'U0DEMOCSM2' },
  { name: 'Diego Alvarez', email: 'diego@lifeline.example', role: 'csm', slackUserId: 'U0DEMOCSM3' },
  { name: 'Priya Nair', email: 'priya@lifeline.example', role: 'csm', slackUserId: 'U0DEMOCSM4' },
  { name: 'Tom Becker', email: 'tom@lifeline.example', role: 'ae', slackUserId: 'U0DEMOAE01' },
  { name: 'Grace Kim', email: 'grace@lifeline.example', role: 'ae', slackUserId: 'U0DEMOAE02' },
  { name: 'Omar Haddad', email: 'omar@lifeline.example', role: 'ae', slackUserId: 'U0DEMOAE03' },
  { name: 'Jo Lindqvist', email: 'jo@lifeline.example', role: 'viewer', slackUserId: 'U0DEMOVWR1' },
];

const companies = [
  'Acme Analytics', 'Brightwave Health', 'Cobalt Logistics', 'Driftwood Media', 'Evergreen Foods', 'Fjord Robotics',
  'Granite Insurance', 'Harbor Freight Labs', 'Ironclad Security', 'Juniper Learning', 'Kestrel Aviation', 'Lumen Energy',
  'Meridian Bank', 'Northwind Traders', 'Orchid Biotech', 'Pioneer Telecom', 'Quartz Retail', 'Redwood Legal',
  'Summit Outdoor', 'Tidal Payments', 'Umbra Games', 'Vantage Realty', 'Willow Care', 'Xenon Chemicals',
  'Yarrow Farms', 'Zephyr Travel', 'Atlas Manufacturing', 'Beacon Nonprofit', 'Cedar Hospitality', 'Delta Dental Group',
  'Ember Studios', 'Falcon Freight', 'Glacier Water', 'Helix Genomics', 'Indigo Fashion', 'Jade Pharmacy',
  'Keystone Builders', 'Lighthouse Schools', 'Mosaic Marketing', 'Nimbus Cloudworks',
  // Former customers: they churned over the last months, so the health history has churns to be judged against.
  'Orbit Fitness', 'Prism Optics', 'Quill Publishing', 'Rivet Hardware', 'Sable Apparel', 'Trellis Gardens',
  'Upland Dairy', 'Vertex Staffing',
];

/** A small deterministic generator, so the demo book is the same on every machine. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) % 4_294_967_296;
    return state / 4_294_967_296;
  };
}

const closedWonRule = ruleActor('closed_won', 'Closed-won rule');

function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/**
 * Seeds a realistic demo book on an empty database: people with Slack ids, about 40 accounts spread over
 * every stage, the history that brought them there, and their signals, revenue, handoffs, renewals and health
 * (signals.ts), and the people on the customer's side with the CSMs' sentiment (people.ts). Does nothing when
 * accounts already exist.
 */
export async function seedDemoBook(
  db: Db,
  now = new Date(),
  options: { renewalWindowDays?: number } = {},
): Promise<{ seeded: boolean; admin: User | undefined }> {
  await ensureInstallDefaults(db);
  const [existing] = await db.select({ total: count() }).from(accounts);
  if ((existing?.total ?? 0) > 0) {
    const [admin] = await db.select().from(usersTable).where(eq(usersTable.role, 'admin')).orderBy(asc(usersTable.createdAt)).limit(1);
    return { seeded: false, admin };
  }

  const random = seededRandom(42);
  const users: User[] = [];
  for (const person of people) users.push(await createUser(db, person));
  const byRole = (role: UserRole) => users.filter((user) => user.role === role);
  const csms = byRole('csm');
  const aes = byRole('ae');
  const manager = byRole('manager')[0];
  const admin = byRole('admin')[0];
  // The CSMs and AEs report to the manager: escalations about their accounts go to her.
  if (manager) {
    await db
      .update(usersTable)
      .set({ managerId: manager.id })
      .where(inArray(usersTable.id, [...csms, ...aes].map((user) => user.id)));
  }
  const stageKeys = defaultStages.map((stage) => stage.key);
  const segmentsInOrder: Segment[] = ['smb', 'mid_market', 'enterprise'];
  const arrBySegment: Record<Segment, [number, number]> = { smb: [8_000, 30_000], mid_market: [30_000, 120_000], enterprise: [120_000, 600_000] };

  const book: DemoAccount[] = [];
  for (const [index, name] of companies.entries()) {
    // Most of a book sits in adoption; a few accounts are new or lost.
    const stageIndex = index < 4 ? 0 : index < 10 ? 1 : index < 17 ? 2 : index < 25 ? 3 : index < 37 ? 4 : 5;
    const segment = segmentsInOrder[index % 3] ?? 'smb';
    const [low, high] = arrBySegment[segment];
    const arrDollars = Math.round((low + random() * (high - low)) / 500) * 500;
    const csm = csms[index % csms.length];
    const ae = aes[index % aes.length];
    if (!csm || !ae || !manager) throw new Error('Demo people are missing');

    // Deals still in pre-onboarding signed days ago, within the stage's week; the rest are older the further along.
    const ageDays = stageIndex === 0 ? 2 + index : 20 + stageIndex * 70 + Math.floor(random() * 60);
    const createdAt = new Date(now.getTime() - ageDays * DAY_MS);
    const contractStart = new Date(createdAt.getTime() + 7 * DAY_MS);
    const contractEnd = new Date(contractStart.getTime() + (index % 4 === 0 ? 730 : 365) * DAY_MS);

    if (stageIndex === 1) {
      // Accounts onboarding now came in as new customers through closed-won, which creates each in Onboarding with
      // its handoff (seedDemoSignals takes the handoffs on to different steps). The closing day is drawn as the
      // walk below draws its first step.
      const firstStep = Math.max(1, Math.floor((now.getTime() - createdAt.getTime()) / (2 * DAY_MS)));
      const closedWonAt = new Date(Math.min(createdAt.getTime() + Math.floor(firstStep * (0.6 + random() * 0.5)) * DAY_MS, now.getTime() - DAY_MS));
      const closed = await closeDemoDeal(db, {
        profile: {
          externalId: `crm-${1000 + index}`,
          name,
          domain: `${name.toLowerCase().replace(/[^a-z]+/g, '')}.example`,
          segment,
          arrCents: arrDollars * 100,
          contractStart: isoDate(contractStart),
          contractEnd: isoDate(contractEnd),
        },
        ae,
        csm,
        closedWonAt,
        step: book.filter((demo) => demo.stageIndex === 1).length,
        now,
        renewalWindowDays: options.renewalWindowDays,
      });
      book.push({ account: closed, stageIndex, csm, ae, onboardedAt: closedWonAt, churnedAt: null });
      continue;
    }

    const account = await createAccount(db, {
      name,
      segment,
      domain: `${name.toLowerCase().replace(/[^a-z]+/g, '')}.example`,
      externalId: `crm-${1000 + index}`,
      arrCents: arrDollars * 100,
      csmId: csm.id,
      aeId: ae.id,
      contractStart: isoDate(contractStart),
      contractEnd: isoDate(contractEnd),
      stageKey: 'pre_onboarding',
      enteredAt: createdAt,
      actor: actorFromUser(ae),
      source: 'import',
    });

    // Walk the account forward through each stage up to its current one, with realistic gaps.
    let current = account;
    let onboardedAt: Date | null = null;
    let churnedAt: Date | null = null;
    let at = createdAt.getTime();
    const step = Math.max(1, Math.floor((now.getTime() - at) / ((stageIndex + 1) * DAY_MS)));
    for (let next = 1; next <= stageIndex; next += 1) {
      const toStage = stageKeys[next];
      if (!toStage) break;
      at += Math.floor(step * (0.6 + random() * 0.5)) * DAY_MS;
      const mover = toStage === 'churned' ? manager : csm;
      const occurredAt = new Date(Math.min(at, now.getTime() - DAY_MS));
      const moved = await moveAccountStage(db, {
        accountId: account.id,
        toStage,
        expectedVersion: current.version,
        // Closed-won moves an account into onboarding by rule; later moves are people's. All of it is past
        // history recorded at once, an import, so none of it is announced in Slack as if it just happened.
        actor: next === 1 ? closedWonRule : actorFromUser(mover),
        source: 'import',
        reason: toStage === 'churned' ? 'Budget cut after acquisition; chose to consolidate vendors.' : null,
        churnReasonKey: toStage === 'churned' ? 'budget' : null,
        occurredAt,
      });
      current = moved.account;
      if (next === 1) onboardedAt = occurredAt;
      if (toStage === 'churned') churnedAt = occurredAt;
    }
    // One account slipped back: implementation stalled and it returned to onboarding.
    if (index === 12) {
      const moved = await moveAccountStage(db, {
        accountId: account.id,
        toStage: 'onboarding',
        expectedVersion: current.version,
        actor: actorFromUser(csm),
        source: 'import',
        reason: 'Champion left; restarting onboarding with the new team.',
        occurredAt: new Date(now.getTime() - 3 * DAY_MS),
      });
      current = moved.account;
    }
    book.push({ account: current, stageIndex, csm, ae, onboardedAt, churnedAt });
  }
  await seedDemoSignals(db, book, now, random, options.renewalWindowDays);
  await seedDemoPeople(db, book, now);
  await seedDemoPlays(db, book, now);
  return { seeded: true, admin };
}

/**
 * Running plays, as a team using Lifeline has them: the signals above already started some (an accepted handoff
 * starts onboarding, a usage drop the risk play, a renewal at 90 days its play). Each account still onboarding
 * without its onboarding play gets one, started by its CSM when it entered the stage, so milestones are due and
 * some overdue; each Critical account without a risk play gets one, started by its CSM a few days ago.
 */
async function seedDemoPlays(db: Db, book: DemoAccount[], now: Date): Promise<void> {
  const accountIds = book.map((demo) => demo.account.id);
  const running = await listPlaybookRunsByAccountIds(db, { accountIds, reader: systemReader, runningOnly: true });
  const runs = new Set(running.map((item) => `${item.run.accountId}:${item.playbookKey}`));
  const health = await db.select({ accountId: accountHealth.accountId, status: accountHealth.status }).from(accountHealth).where(inArray(accountHealth.accountId, accountIds));
  const critical = new Set(health.filter((row) => row.status === 'critical').map((row) => row.accountId));
  for (const demo of book) {
    const [account] = await db.select().from(accounts).where(eq(accounts.id, demo.account.id));
    if (!account) continue;
    const start = (playbookKey: string, at: Date) => startPlaybook(db, { accountId: account.id, playbookKey, actor: actorFromUser(demo.csm), now: at });
    if (account.stageKey === 'onboarding' && !runs.has(`${account.id}:onboarding`)) await start('onboarding', account.stageEnteredAt);
    if (critical.has(account.id) && !runs.has(`${account.id}:risk`)) await start('risk', new Date(now.getTime() - 3 * DAY_MS));
  }
}
