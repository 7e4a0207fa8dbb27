// Builders for customer signals (usage, tickets, NPS and CSAT answers, CSM touches, first value, CSM sentiment), dated
// in days before a test's `now`. Each goes through the ingestion function the API calls, so a fixture is stored
// exactly as a real load would be.
import type { Db } from '../../db/client.ts';
import { type Sentiment, type SurveyKind, type TicketSeverity, type TouchKind } from '../../db/schema.ts';
import type { Actor } from '../../domain/actors.ts';
import { addDays, isoDay } from '../../domain/dates.ts';
import { setSentiment } from '../../domain/people/sentiment.ts';
import { MAX_USAGE_ROWS, type UsageRowInput, recordFirstValue, recordNps, recordTicket, recordTouches, recordUsage, resolveTicket } from '../../domain/signals.ts';

const ingestion: Actor = { userId: null, role: 'integration', label: 'Test signals' };
const sentimentAuthor: Actor = { userId: null, role: 'admin', label: 'Test sentiment' };

export function daysBefore(now: Date, days: number): Date {
  return addDays(now, -days);
}

export interface UsageSpan {
  /** Days before `now`, inclusive: 0 is today. */
  fromDaysAgo: number;
  toDaysAgo: number;
  activeUsers: number;
  seats: number;
  keyEvents?: number;
  advancedEvents?: number;
}

/** One usage row per day over the span, the same every day. */
export async function addUsage(db: Db, accountId: string, now: Date, span: UsageSpan): Promise<void> {
  const rows = [];
  for (let ago = span.fromDaysAgo; ago >= span.toDaysAgo; ago--) {
    rows.push({
      accountId,
      day: isoDay(daysBefore(now, ago)),
      activeUsers: span.activeUsers,
      seats: span.seats,
      keyEvents: span.keyEvents ?? 0,
      advancedEvents: span.advancedEvents ?? 0,
    });
  }
  await recordUsage(db, { rows, actor: ingestion });
}

/** Usage rows of many accounts, as a bulk load sends them (MAX_USAGE_ROWS a call). */
export async function addUsageRows(db: Db, rows: UsageRowInput[]): Promise<void> {
  for (let start = 0; start < rows.length; start += MAX_USAGE_ROWS) {
    await recordUsage(db, { rows: rows.slice(start, start + MAX_USAGE_ROWS), actor: ingestion });
  }
}

export async function addTicket(
  db: Db,
  accountId: string,
  now: Date,
  ticket: { severity: TicketSeverity; openedDaysAgo: number; resolvedDaysAgo?: number },
): Promise<void> {
  const opened = await recordTicket(db, {
    accountId,
    severity: ticket.severity,
    subject: `${ticket.severity} ticket`,
    openedAt: daysBefore(now, ticket.openedDaysAgo),
    actor: ingestion,
  });
  if (ticket.resolvedDaysAgo !== undefined) {
    await resolveTicket(db, { ticketId: opened.id, resolvedAt: daysBefore(now, ticket.resolvedDaysAgo), actor: ingestion });
  }
}

export async function addSurvey(
  db: Db,
  accountId: string,
  now: Date,
  survey: { kind?: SurveyKind; score: number; daysAgo: number; role?: string | null; email?: string | null },
): Promise<void> {
  await recordNps(db, {
    accountId,
    kind: survey.kind ?? 'nps',
    score: survey.score,
    respondentRole: survey.role ?? null,
    respondentEmail: survey.email ?? null,
    respondedAt: daysBefore(now, survey.daysAgo),
    actor: ingestion,
  });
}

export async function addTouch(db: Db, accountId: string, now: Date, daysAgo: number, kind: TouchKind = 'call'): Promise<void> {
  await recordTouches(db, { rows: [{ accountId, kind, occurredAt: daysBefore(now, daysAgo) }], actor: ingestion });
}

export async function addFirstValue(db: Db, accountId: string, now: Date, value: { daysAgo: number; description?: string }): Promise<void> {
  await recordFirstValue(db, { accountId, reachedAt: daysBefore(now, value.daysAgo), description: value.description ?? null, actor: ingestion });
}

/** The CSM's read of the account, set as of `now` through the domain, by an admin; health only reads the latest one. */
export async function addSentiment(db: Db, accountId: string, now: Date, sentiment: Sentiment): Promise<void> {
  await setSentiment(db, { actor: sentimentAuthor, accountId, sentiment, now });
}
