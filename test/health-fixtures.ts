// Signal fixtures for the health, rules, renewals and jobs tests: plain inserts, the way ingestion stores them.
import type { Db } from '../db/client.ts';
import {
  type SurveyKind,
  type TicketSeverity,
  type TouchKind,
  csmSentiments,
  csmTouches,
  surveyResponses,
  tickets,
  usageDaily,
} from '../db/schema.ts';
import { addDays, isoDay } from '../domain/dates.ts';

export function daysBefore(now: Date, days: number): Date {
  return addDays(now, -days);
}

export const dayString = isoDay;

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
      day: dayString(daysBefore(now, ago)),
      activeUsers: span.activeUsers,
      seats: span.seats,
      keyEvents: span.keyEvents ?? 0,
      advancedEvents: span.advancedEvents ?? 0,
    });
  }
  await db.insert(usageDaily).values(rows);
}

export async function addTicket(
  db: Db,
  accountId: string,
  now: Date,
  ticket: { severity: TicketSeverity; openedDaysAgo: number; resolvedDaysAgo?: number },
): Promise<void> {
  await db.insert(tickets).values({
    accountId,
    severity: ticket.severity,
    subject: `${ticket.severity} ticket`,
    openedAt: daysBefore(now, ticket.openedDaysAgo),
    resolvedAt: ticket.resolvedDaysAgo === undefined ? null : daysBefore(now, ticket.resolvedDaysAgo),
  });
}

export async function addSurvey(
  db: Db,
  accountId: string,
  now: Date,
  survey: { kind?: SurveyKind; score: number; daysAgo: number; role?: string | null; email?: string | null },
): Promise<void> {
  await db.insert(surveyResponses).values({
    accountId,
    kind: survey.kind ?? 'nps',
    score: survey.score,
    respondentRole: survey.role ?? null,
    respondentEmail: survey.email ?? null,
    respondedAt: daysBefore(now, survey.daysAgo),
  });
}

export async function addTouch(db: Db, accountId: string, now: Date, daysAgo: number, kind: TouchKind = 'call'): Promise<void> {
  await db.insert(csmTouches).values({ accountId, kind, occurredAt: daysBefore(now, daysAgo) });
}

export async function addSentiment(db: Db, accountId: string, now: Date, sentiment: 'positive' | 'neutral' | 'negative'): Promise<void> {
  await db.insert(csmSentiments).values({ accountId, sentiment, recordedAt: now });
}
