import type { User } from '../../db/schema.ts';

/** Slack mrkdwn treats &, < and > as control characters: escape anything people typed. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts text to Slack's limit for a field, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A mention when the person is linked to Slack (it notifies them), their name otherwise. */
export function personMention(user: Pick<User, 'name' | 'slackUserId'> | null): string {
  if (!user) return '_unassigned_';
  return user.slackUserId ? `<@${user.slackUserId}>` : escapeMrkdwn(user.name);
}

export function personName(user: Pick<User, 'name'> | null): string {
  return user ? user.name : 'unassigned';
}

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });

export function formatCents(cents: number): string {
  return usd.format(cents / 100);
}

const segmentNames = { smb: 'SMB', mid_market: 'Mid-market', enterprise: 'Enterprise' } as const;

export function formatSegment(segment: keyof typeof segmentNames): string {
  return segmentNames[segment];
}

const DAY_MS = 86_400_000;

export function daysBetween(from: Date, to: Date): number {
  return Math.floor((to.getTime() - from.getTime()) / DAY_MS);
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** Slack renders a date token in each reader's own time zone; the fallback is for clients that cannot. */
export function slackDate(date: Date): string {
  const seconds = Math.floor(date.getTime() / 1000);
  return `<!date^${seconds}^{date_short_pretty} at {time}|${date.toISOString()}>`;
}
