import type { HealthStatus, User } from '../../db/schema.ts';
import { daysBetween } from '../../domain/dates.ts';

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

export function plural(count: number, word: string, pluralWord = `${word}s`): string {
  return `${count} ${count === 1 ? word : pluralWord}`;
}

/** Slack renders a date token in each reader's own time zone; the fallback is for clients that cannot. */
export function slackDate(date: Date): string {
  const seconds = Math.floor(date.getTime() / 1000);
  return `<!date^${seconds}^{date_short_pretty} at {time}|${date.toISOString()}>`;
}

/** A section of mrkdwn, cut to Slack's 3000-character limit (an empty section is `invalid_blocks`, hence the dash). */
export function sectionBlock(text: string): { type: 'section'; text: { type: 'mrkdwn'; text: string } } {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text === '' ? '–' : text, 3000) } };
}

export function contextBlock(text: string): { type: 'context'; elements: [{ type: 'mrkdwn'; text: string }] } {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text === '' ? '–' : text, 3000) }] };
}

export function plainText(text: string, max: number): { type: 'plain_text'; text: string; emoji: true } {
  return { type: 'plain_text', text: truncate(text === '' ? '–' : text, max), emoji: true };
}

/** Calendar days from today to a date (negative when past), the way people count "renews in 12 days". */
export function daysUntil(day: string, now: Date): number {
  const today = new Date(`${now.toISOString().slice(0, 10)}T00:00:00Z`);
  return daysBetween(today, new Date(`${day}T00:00:00Z`));
}

export function relativeDays(days: number): string {
  if (days === 0) return 'today';
  return days > 0 ? `in ${plural(days, 'day')}` : `${plural(-days, 'day')} ago`;
}

const statusNames = { healthy: 'Healthy', at_risk: 'At risk', critical: 'Critical', insufficient_data: 'Not enough data' } as const satisfies Record<HealthStatus, string>;
const statusEmoji = {
  healthy: ':large_green_circle:',
  at_risk: ':large_yellow_circle:',
  critical: ':red_circle:',
  insufficient_data: ':white_circle:',
} as const satisfies Record<HealthStatus, string>;

/** "🟢 Healthy 82"; an account without a score (insufficient_data) says "Not enough data" and no number. */
export function formatHealth(status: HealthStatus, score: number | null): string {
  return `${statusEmoji[status]} ${formatHealthPlain(status, score)}`;
}

export function formatHealthPlain(status: HealthStatus, score: number | null): string {
  return score === null ? statusNames[status] : `${statusNames[status]} ${score}`;
}

/** "▼18" / "▲4" / "±0" against an earlier score, or nothing when either score is missing. */
export function formatTrend(score: number | null, earlier: number | null): string {
  if (score === null || earlier === null) return '';
  const change = score - earlier;
  return change < 0 ? `▼${-change}` : change > 0 ? `▲${change}` : '±0';
}
