import type { Db } from '../db/client.ts';
import type { Sentiment } from '../db/schema.ts';
import { actorFromUser } from '../domain/actors.ts';
import { DAY_MS } from '../domain/dates.ts';
import { type ContactInput, markContactLeft, upsertContacts } from '../domain/people/contacts.ts';
import { setSentiment } from '../domain/people/sentiment.ts';
import type { DemoAccount } from './signals.ts';

const firstNames = ['Dana', 'Lee', 'Morgan', 'Rui', 'Noor', 'Kai', 'Ines', 'Theo', 'Hana', 'Ola', 'Yusuf', 'Mila'];
const lastNames = ['Reyes', 'Park', 'Okoye', 'Silva', 'Haddad', 'Berg', 'Moreau', 'Tanaka', 'Novak', 'Costa'];

function personName(index: number, offset: number): string {
  return `${firstNames[(index + offset) % firstNames.length]} ${lastNames[(index * 3 + offset) % lastNames.length]}`;
}

/**
 * The people on the customer's side of every demo account, through the same domain functions the API uses: a
 * champion and an executive sponsor for each (the champion's email is the one the demo NPS answers come from, so
 * they link), an admin and a user for most; one champion who left 12 days ago, on the account that slipped back to
 * onboarding (its signal fires, with its alert and task); and the CSM's sentiment, with a few entries of history
 * on the accounts whose health is moving.
 */
export async function seedDemoPeople(db: Db, book: DemoAccount[], now: Date): Promise<void> {
  for (const [index, demo] of book.entries()) {
    const { account, csm } = demo;
    const domain = account.domain ?? 'customer.example';
    const contacts: ContactInput[] = [
      { accountId: account.id, name: personName(index, 0), email: `champion@${domain}`, role: 'champion' },
      { accountId: account.id, name: personName(index, 5), email: `sponsor@${domain}`, role: 'executive_sponsor' },
    ];
    if (index % 3 !== 2) {
      contacts.push({ accountId: account.id, name: personName(index, 7), email: `it@${domain}`, role: 'admin' });
      contacts.push({ accountId: account.id, name: personName(index, 9), email: `user@${domain}`, role: 'user' });
    }
    const { contacts: saved } = await upsertContacts(db, { actor: actorFromUser(csm), contacts, now: new Date(now.getTime() - 60 * DAY_MS) });

    // The account that slipped back to onboarding lost its champion.
    const champion = saved[0];
    if (account.name === 'Meridian Bank' && champion) {
      await markContactLeft(db, { actor: actorFromUser(csm), contactId: champion.id, leftAt: new Date(now.getTime() - 12 * DAY_MS), now });
    }

    if (demo.churnedAt !== null || demo.onboardedAt === null) continue;
    const history: { sentiment: Sentiment; note: string | null; daysAgo: number }[] =
      index % 5 === 0
        ? [
            { sentiment: 'positive', note: 'Strong kickoff, exec sponsor engaged.', daysAgo: 45 },
            { sentiment: 'neutral', note: 'Rollout slower than planned; waiting on their IT.', daysAgo: 20 },
            { sentiment: index % 2 === 0 ? 'negative' : 'positive', note: index % 2 === 0 ? 'Budget review next quarter; champion unsure about renewal.' : 'Second team live, asking about SSO for everyone.', daysAgo: 3 },
          ]
        : [{ sentiment: index % 7 === 0 ? 'neutral' : 'positive', note: null, daysAgo: 5 + (index % 20) }];
    for (const entry of history) {
      await setSentiment(db, { actor: actorFromUser(csm), accountId: account.id, sentiment: entry.sentiment, note: entry.note, now: new Date(now.getTime() - entry.daysAgo * DAY_MS) });
    }
  }
}
