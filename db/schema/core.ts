import { type SQL, sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  boolean,
  date,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { churnReasons } from './churn-reasons.ts';

/** Roles a person can hold. `integration` is only ever given to API tokens (CRM, product analytics, support desk). */
export const userRoles = ['admin', 'manager', 'csm', 'ae', 'viewer'] as const;
export const tokenRoles = [...userRoles, 'integration'] as const;
export const segments = ['smb', 'mid_market', 'enterprise'] as const;
export const transitionSources = ['slack', 'api', 'rule', 'import'] as const;
export const transitionDirections = ['initial', 'forward', 'backward'] as const;

export type UserRole = (typeof userRoles)[number];
export type TokenRole = (typeof tokenRoles)[number];
export type Segment = (typeof segments)[number];
export type TransitionSource = (typeof transitionSources)[number];
export type TransitionDirection = (typeof transitionDirections)[number];

export const userRole = pgEnum('user_role', userRoles);
export const tokenRole = pgEnum('token_role', tokenRoles);
export const segment = pgEnum('segment', segments);
export const transitionSource = pgEnum('transition_source', transitionSources);
export const transitionDirection = pgEnum('transition_direction', transitionDirections);

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    email: text('email').notNull(),
    slackUserId: text('slack_user_id'),
    role: userRole('role').notNull(),
    /** Whom this person reports to: escalations about their accounts go to this manager. */
    managerId: uuid('manager_id').references((): AnyPgColumn => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('users_email_key').on(sql`lower(${t.email})`),
    uniqueIndex('users_slack_user_id_key').on(t.slackUserId),
  ],
);

export const lifecycleStages = pgTable('lifecycle_stages', {
  key: text('key').primaryKey(),
  name: text('name').notNull(),
  position: integer('position').notNull().unique(),
  ownerRole: userRole('owner_role').notNull(),
  entryCriteria: text('entry_criteria').notNull(),
  exitCriteria: text('exit_criteria').notNull(),
  slaDays: integer('sla_days'),
  terminal: boolean('terminal').notNull().default(false),
});

/**
 * The keys the account listing (domain/accounts/listing.ts) orders by, one ascending float8 per order, written once
 * for the listing and for the indexes that serve it: PostgreSQL uses an expression index only for the very same
 * expression. Accounts without the value come last (a key larger than any real one).
 */
export const accountListingKeys = {
  renewalDate: (contractEnd: AnyPgColumn | SQL) => sql`(coalesce(${contractEnd} - date '2000-01-01', 1000000)::float8)`,
  /** Largest first. */
  arr: (arrCents: AnyPgColumn) => sql`((-${arrCents})::float8)`,
  /**
   * Longest in its stage first: milliseconds since the epoch, so the key survives the JSON round trip of a cursor
   * exactly. Written as an interval from the epoch because extract() from a timestamptz is not immutable (an index
   * cannot hold it); the value is the same.
   */
  timeInStage: (stageEnteredAt: AnyPgColumn) => sql`(floor(extract(epoch from (${stageEnteredAt} - timestamptz '1970-01-01 00:00:00+00')) * 1000)::float8)`,
};

export const accounts = pgTable(
  'accounts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    externalId: text('external_id').unique(),
    name: text('name').notNull(),
    domain: text('domain'),
    segment: segment('segment').notNull(),
    arrCents: bigint('arr_cents', { mode: 'number' }).notNull().default(0),
    csmId: uuid('csm_id').references(() => users.id),
    aeId: uuid('ae_id').references(() => users.id),
    stageKey: text('stage_key')
      .notNull()
      .references(() => lifecycleStages.key),
    stageEnteredAt: timestamp('stage_entered_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    contractStart: date('contract_start', { mode: 'string' }),
    contractEnd: date('contract_end', { mode: 'string' }),
    /** Optimistic concurrency: bumped by every stage move; equals the number of transitions recorded. */
    version: integer('version').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('accounts_stage_key_idx').on(t.stageKey, t.id),
    index('accounts_csm_id_idx').on(t.csmId, t.id),
    index('accounts_ae_id_idx').on(t.aeId, t.id),
    index('accounts_segment_idx').on(t.segment, t.id),
    index('accounts_name_idx').on(sql`lower(${t.name})`),
    // The default listing order: keyset pages by (name, id) read the index instead of sorting every account.
    index('accounts_name_id_idx').on(t.name, t.id),
    // The other listing orders of an account's own columns, each on exactly its key (accountListingKeys).
    index('accounts_renewal_order_idx').on(accountListingKeys.renewalDate(t.contractEnd), t.id),
    index('accounts_arr_order_idx').on(accountListingKeys.arr(t.arrCents), t.id),
    index('accounts_stage_time_order_idx').on(accountListingKeys.timeInStage(t.stageEnteredAt), t.id),
  ],
);

/** Append-only: every stage change, forward or backward, is one row. Never updated, never deleted. */
export const stageTransitions = pgTable(
  'stage_transitions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    fromStage: text('from_stage').references(() => lifecycleStages.key),
    toStage: text('to_stage')
      .notNull()
      .references(() => lifecycleStages.key),
    direction: transitionDirection('direction').notNull(),
    actorId: uuid('actor_id').references(() => users.id),
    /** Who or what moved it, as shown to people: a user's name, an API token's name, a rule's name. */
    actorLabel: text('actor_label').notNull(),
    source: transitionSource('source').notNull(),
    reason: text('reason'),
    /** Why the customer left: every move to Churned names one of the admin-edited churn reasons. */
    churnReasonKey: text('churn_reason_key').references(() => churnReasons.key),
    /** The account version this transition produced; unique per account, so the chain has no forks. */
    accountVersion: integer('account_version').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('stage_transitions_account_version_key').on(t.accountId, t.accountVersion)],
);

export const apiTokens = pgTable('api_tokens', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  /** SECURITY: only the SHA-256 of a token is stored; the token itself is shown once, at creation. */
  tokenHash: text('token_hash').notNull().unique(),
  role: tokenRole('role').notNull(),
  userId: uuid('user_id').references(() => users.id),
  createdAt: createdAt(),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
});

export type User = typeof users.$inferSelect;
export type LifecycleStage = typeof lifecycleStages.$inferSelect;
export type Account = typeof accounts.$inferSelect;
export type StageTransition = typeof stageTransitions.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
