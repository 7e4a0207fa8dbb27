// Rows as the database returns them, built in memory for the pure Block Kit builders in bot/views: a view test needs
// no database, only the rows a builder reads. Each test overrides what its view shows.
import type { Account, Handoff, HealthSummary, Lead } from '../../db/schema.ts';
import { HEALTH_MODEL_VERSION } from '../../domain/health/model.ts';

/** When the rows were written, unless a test says otherwise. */
export const ROWS_WRITTEN_AT = new Date('2026-11-25T12:00:00Z');

/** A row id of its own for each index, for lists of many rows. */
export function rowId(index: number): string {
  return `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
}

export function accountRow(overrides: Partial<Account> = {}): Account {
  return {
    id: rowId(0),
    externalId: null,
    name: 'Acme Analytics',
    domain: null,
    segment: 'enterprise',
    arrCents: 24_000_000,
    csmId: 'csm',
    aeId: 'ae',
    stageKey: 'onboarding',
    stageEnteredAt: new Date('2026-10-01T00:00:00Z'),
    contractStart: '2026-01-01',
    contractEnd: '2027-01-31',
    version: 1,
    createdAt: ROWS_WRITTEN_AT,
    updatedAt: ROWS_WRITTEN_AT,
    ...overrides,
  };
}

/** A pending handoff, nothing confirmed or written down yet. */
export function handoffRow(overrides: Partial<Handoff> = {}): Handoff {
  return {
    id: '00000000-0000-4000-8000-00000000aaaa',
    opportunityId: 'opp',
    accountId: 'a',
    aeId: 'ae',
    csmId: 'csm',
    status: 'pending',
    closedWonAt: new Date('2026-11-20T00:00:00Z'),
    goals: null,
    promises: null,
    stakeholders: null,
    risks: null,
    notes: null,
    kickoffAt: null,
    goLiveTarget: null,
    slaDueAt: new Date('2026-11-23T00:00:00Z'),
    confirmedAt: null,
    confirmedBy: null,
    acceptedAt: null,
    acceptedBy: null,
    kickoffScheduledAt: null,
    completedAt: null,
    version: 1,
    createdAt: ROWS_WRITTEN_AT,
    updatedAt: ROWS_WRITTEN_AT,
    ...overrides,
  };
}

export function leadRow(overrides: Partial<Lead> = {}): Lead {
  return {
    id: '00000000-0000-4000-8000-00000000bbbb',
    accountId: 'a',
    firingId: null,
    signalAt: ROWS_WRITTEN_AT,
    wants: 'Twenty more seats for the support team',
    estimatedMrrCents: 50_000,
    urgency: 'medium',
    status: 'qualified',
    createdBy: null,
    createdByLabel: 'A CSM',
    aeId: null,
    acceptedAt: null,
    acceptedBy: null,
    declinedAt: null,
    declinedBy: null,
    declineReason: null,
    wonAt: null,
    wonOpportunityId: null,
    wonMrrCents: null,
    lostAt: null,
    lostBy: null,
    lostReason: null,
    createdAt: ROWS_WRITTEN_AT,
    updatedAt: ROWS_WRITTEN_AT,
    version: 1,
    ...overrides,
  };
}

/** The health a card or list shows: a score and status, and what a test adds (trend, reasons). */
export function healthRow(overrides: Pick<HealthSummary, 'score' | 'status'> & Partial<HealthSummary>): HealthSummary {
  return {
    accountId: 'a',
    scoreDayAgo: null,
    scoreWeekAgo: null,
    reasons: [],
    computedAt: ROWS_WRITTEN_AT,
    modelVersion: HEALTH_MODEL_VERSION,
    note: null,
    components: null,
    ...overrides,
  };
}
