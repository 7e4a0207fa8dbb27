import { sql } from 'drizzle-orm';
import {
  bigint,
  date,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { accounts, users } from './core.ts';
import { churnReasons } from './churn-reasons.ts';

export const handoffStatuses = ['pending', 'confirmed', 'accepted', 'kickoff_scheduled', 'completed'] as const;
export const ticketSeverities = ['low', 'normal', 'high', 'urgent'] as const;
export const surveyKinds = ['nps', 'csat'] as const;
export const sentiments = ['positive', 'neutral', 'negative'] as const;
export const touchKinds = ['call', 'meeting', 'email', 'slack', 'other'] as const;
export const revenueChangeKinds = ['new', 'expansion', 'contraction', 'churn', 'reactivation'] as const;
export const renewalStatuses = ['upcoming', 'open', 'renewed', 'churned'] as const;

export type HandoffStatus = (typeof handoffStatuses)[number];
export type TicketSeverity = (typeof ticketSeverities)[number];
export type SurveyKind = (typeof surveyKinds)[number];
export type Sentiment = (typeof sentiments)[number];
export type TouchKind = (typeof touchKinds)[number];
export type RevenueChangeKind = (typeof revenueChangeKinds)[number];
export type RenewalStatus = (typeof renewalStatuses)[number];

export const handoffStatus = pgEnum('handoff_status', handoffStatuses);
export const ticketSeverity = pgEnum('ticket_severity', ticketSeverities);
export const surveyKind = pgEnum('survey_kind', surveyKinds);
export const sentiment = pgEnum('sentiment', sentiments);
export const touchKind = pgEnum('touch_kind', touchKinds);
export const revenueChangeKind = pgEnum('revenue_change_kind', revenueChangeKinds);
export const renewalStatus = pgEnum('renewal_status', renewalStatuses);

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Sales-to-CS handoff, created when a deal is closed-won (idempotent on the CRM opportunity id). */
export const handoffs = pgTable(
  'handoffs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    opportunityId: text('opportunity_id').notNull().unique(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    aeId: uuid('ae_id').references(() => users.id),
    csmId: uuid('csm_id').references(() => users.id),
    status: handoffStatus('status').notNull().default('pending'),
    closedWonAt: timestamptz('closed_won_at').notNull(),
    goals: text('goals'),
    promises: text('promises'),
    stakeholders: text('stakeholders'),
    risks: text('risks'),
    notes: text('notes'),
    kickoffAt: timestamptz('kickoff_at'),
    goLiveTarget: date('go_live_target', { mode: 'string' }),
    /** When the kickoff should be scheduled by: closed-won plus the handoff SLA. */
    slaDueAt: timestamptz('sla_due_at').notNull(),
    confirmedAt: timestamptz('confirmed_at'),
    confirmedBy: uuid('confirmed_by').references(() => users.id),
    acceptedAt: timestamptz('accepted_at'),
    acceptedBy: uuid('accepted_by').references(() => users.id),
    kickoffScheduledAt: timestamptz('kickoff_scheduled_at'),
    completedAt: timestamptz('completed_at'),
    version: integer('version').notNull().default(1),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [index('handoffs_account_id_idx').on(t.accountId), index('handoffs_status_idx').on(t.status, t.slaDueAt)],
);

/** One row per account and day; re-sending a day replaces it. */
export const usageDaily = pgTable(
  'usage_daily',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    day: date('day', { mode: 'string' }).notNull(),
    activeUsers: integer('active_users').notNull(),
    seats: integer('seats').notNull(),
    keyEvents: integer('key_events').notNull().default(0),
    advancedEvents: integer('advanced_events').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.day] }), index('usage_daily_day_idx').on(t.day)],
);

export const tickets = pgTable(
  'tickets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    externalId: text('external_id').unique(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    severity: ticketSeverity('severity').notNull(),
    subject: text('subject').notNull(),
    openedAt: timestamptz('opened_at').notNull(),
    resolvedAt: timestamptz('resolved_at'),
  },
  (t) => [index('tickets_open_idx').on(t.accountId).where(sql`${t.resolvedAt} is null`), index('tickets_account_idx').on(t.accountId, t.openedAt)],
);

export const surveyResponses = pgTable(
  'survey_responses',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    externalId: text('external_id').unique(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    kind: surveyKind('kind').notNull(),
    /** NPS 0-10, CSAT 1-5. */
    score: integer('score').notNull(),
    respondentEmail: text('respondent_email'),
    /** The respondent's part in the account, e.g. champion, executive sponsor, user. */
    respondentRole: text('respondent_role'),
    comment: text('comment'),
    respondedAt: timestamptz('responded_at').notNull(),
  },
  (t) => [index('survey_responses_account_idx').on(t.accountId, t.respondedAt)],
);

/** The CSM's own read of the account: shown beside the health score, never mixed into it. */
export const csmSentiments = pgTable(
  'csm_sentiments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    authorId: uuid('author_id').references(() => users.id),
    sentiment: sentiment('sentiment').notNull(),
    note: text('note'),
    recordedAt: timestamptz('recorded_at').notNull().defaultNow(),
  },
  (t) => [index('csm_sentiments_account_idx').on(t.accountId, t.recordedAt)],
);

/** Contact between the CSM team and the customer, for the engagement component of health. */
export const csmTouches = pgTable(
  'csm_touches',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    userId: uuid('user_id').references(() => users.id),
    kind: touchKind('kind').notNull(),
    occurredAt: timestamptz('occurred_at').notNull(),
    /** The CRM activity id, when it came from one: a repeat of the same activity updates it. */
    externalId: text('external_id'),
  },
  (t) => [index('csm_touches_account_idx').on(t.accountId, t.occurredAt), uniqueIndex('csm_touches_external_idx').on(t.externalId)],
);

/** First value reached: one row per account, set once. */
export const firstValues = pgTable('first_values', {
  accountId: uuid('account_id')
    .primaryKey()
    .references(() => accounts.id),
  reachedAt: timestamptz('reached_at').notNull(),
  description: text('description'),
});

/** MRR movements, the ledger NRR and GRR are computed from. */
export const revenueChanges = pgTable(
  'revenue_changes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    externalId: text('external_id').unique(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    kind: revenueChangeKind('kind').notNull(),
    /** Signed: positive for new, expansion and reactivation; negative for contraction and churn. */
    mrrDeltaCents: bigint('mrr_delta_cents', { mode: 'number' }).notNull(),
    effectiveDate: date('effective_date', { mode: 'string' }).notNull(),
    note: text('note'),
    /** Why MRR was lost (churn and contraction only); the text of why is `note`. */
    churnReasonKey: text('churn_reason_key').references(() => churnReasons.key),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [index('revenue_changes_account_idx').on(t.accountId, t.effectiveDate), index('revenue_changes_date_idx').on(t.effectiveDate)],
);

export const renewals = pgTable(
  'renewals',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    contractEnd: date('contract_end', { mode: 'string' }).notNull(),
    windowOpensOn: date('window_opens_on', { mode: 'string' }).notNull(),
    status: renewalStatus('status').notNull().default('upcoming'),
    outcome: text('outcome'),
    closedAt: timestamptz('closed_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('renewals_account_contract_end_key').on(t.accountId, t.contractEnd), index('renewals_contract_end_idx').on(t.contractEnd)],
);

export type Handoff = typeof handoffs.$inferSelect;
export type UsageDay = typeof usageDaily.$inferSelect;
export type Ticket = typeof tickets.$inferSelect;
export type SurveyResponse = typeof surveyResponses.$inferSelect;
export type CsmSentiment = typeof csmSentiments.$inferSelect;
export type CsmTouch = typeof csmTouches.$inferSelect;
export type RevenueChange = typeof revenueChanges.$inferSelect;
export type Renewal = typeof renewals.$inferSelect;
