/**
 * Calendar arithmetic, in UTC: Lifeline stores days (contract ends, usage days) as `YYYY-MM-DD` and times as UTC
 * instants, so a day is always 24 hours here; the schedule's time zone matters only to when jobs fire.
 */

export const DAY_MS = 86_400_000;

/** The UTC calendar day of an instant, as PostgreSQL's `date` reads it: `2026-03-01`. */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The instant `days` days after (or, when negative, before) another. */
export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}

/** A `YYYY-MM-DD` day moved by `days` days. */
export function addDaysToDay(day: string, days: number): string {
  return isoDay(addDays(startOfDay(day), days));
}

/** Midnight UTC at the start of a `YYYY-MM-DD` day. */
export function startOfDay(day: string): Date {
  return new Date(`${day}T00:00:00Z`);
}

/** Whole days from one instant to a later one, rounded down (a day and a half is one day). */
export function daysBetween(from: Date, to: Date): number {
  return Math.floor((to.getTime() - from.getTime()) / DAY_MS);
}
