// What each kind of import file holds: its columns (the same names as the GraphQL inputs), the domain schema
// every row is checked against, and how a batch is written, locally through the domain functions the ingestion
// mutations call, or remotely through those mutations.
import type { z } from 'zod';
import type { Db } from '../db/client.ts';
import { revenueChangeKinds, segments, surveyKinds, ticketSeverities, touchKinds, userRoles } from '../db/schema.ts';
import type { Actor } from '../domain/actors.ts';
import { MAX_UPSERT_ACCOUNTS, upsertAccounts, upsertAccountSchema } from '../domain/accounts/crm-upsert.ts';
import { recordRevenueChange, revenueSchema } from '../domain/revenue.ts';
import {
  MAX_TOUCH_ROWS,
  MAX_USAGE_ROWS,
  USAGE_CHUNK_ROWS,
  type CheckedUsageRow,
  checkUsageRow,
  recordNps,
  recordTicket,
  recordTouches,
  recordUsage,
  resolveTicket,
  surveySchema,
  ticketSchema,
  touchRowSchema,
  usageRowSchema,
} from '../domain/signals.ts';
import { MAX_UPSERT_PEOPLE, personSchema, upsertPeople } from '../domain/users.ts';

export const importKinds = ['accounts', 'people', 'usage', 'tickets', 'nps', 'touches', 'revenue'] as const;
export type ImportKindName = (typeof importKinds)[number];

export type CellType = 'text' | 'int' | 'date' | 'datetime';

export interface ImportColumn {
  name: string;
  type: CellType;
  required: boolean;
  /** A good value, shown in the README and in every refusal of this column. */
  example: string;
  description: string;
}

/** One row as the domain function takes it (cells converted to numbers and times). */
export type ImportRow = Record<string, string | number | Date | null>;

/** What a local write needs besides its rows. */
export interface LocalWriteContext {
  db: Db;
  actor: Actor;
  renewalWindowDays: number;
}

/** A kind written a batch at a time: a refused row is named by its index in the batch (`rows[3].day`). */
interface BatchWrite {
  mode: 'batch';
  /** The most rows one call takes (the domain's and the mutation's limit). */
  maxBatch: number;
  /**
   * Returns the accounts whose health signals changed, when the domain function says. `checked` holds what the
   * kind's `parse` returned for each row, when it has one.
   */
  local(context: LocalWriteContext, rows: ImportRow[], checked: readonly unknown[]): Promise<string[]>;
  /** The mutation, taking the batch as `$rows`. */
  mutation: string;
}

/** A kind written a row at a time (the domain records one ticket, answer or movement per call). */
interface RowWrite {
  mode: 'row';
  local(context: LocalWriteContext, row: ImportRow): Promise<string[]>;
  /** Mutations run in order for one row; each takes the row's fields it names as variables. */
  remote(row: ImportRow): { mutation: string; variables: Record<string, unknown> }[];
}

export interface ImportKind {
  name: ImportKindName;
  /** What the file holds, for the README and the CLI's help. */
  summary: string;
  /** What a second import of the same rows updates instead of adding. */
  key: string;
  columns: ImportColumn[];
  /** The domain's own schema of one row: a row is checked with it before any write. */
  schema: z.ZodType;
  /**
   * Checks a row with `schema` through the domain, which then takes the result without checking it again (one
   * check a row); throws the domain's InvalidInputError. Without it, the row is checked with `schema` here.
   */
  parse?: (row: ImportRow) => unknown;
  /** A problem of the row the domain schema cannot see because it lies between two calls; undefined when none. */
  check?: (row: ImportRow) => { column: string; problem: string } | undefined;
  write: BatchWrite | RowWrite;
  /**
   * How a row names the account it writes to, for kinds whose rows of different accounts never touch one another:
   * a local import may then write them in several lanes at once, each account's rows in one lane in file order.
   */
  accountOf?: (row: ImportRow) => { by: 'id' | 'externalId'; key: string } | undefined;
}

const text = (value: ImportRow[string] | undefined) => (value === null || value === undefined ? null : String(value));
const accountColumns: ImportColumn[] = [
  { name: 'accountExternalId', type: 'text', required: false, example: 'crm-0042', description: 'The CRM account id (give this or accountId).' },
  { name: 'accountId', type: 'text', required: false, example: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', description: 'The Lifeline account id.' },
];
const accountRef = (row: ImportRow) => ({ accountId: text(row.accountId), accountExternalId: text(row.accountExternalId) });
/** A checked row names its account one way: the domain's schema refuses both and neither. */
const accountOf = (row: ImportRow): { by: 'id' | 'externalId'; key: string } | undefined => {
  const id = text(row.accountId);
  if (id) return { by: 'id', key: id.toLowerCase() };
  const externalId = text(row.accountExternalId);
  return externalId ? { by: 'externalId', key: externalId.trim() } : undefined;
};

const accounts: ImportKind = {
  name: 'accounts',
  summary: 'Customer accounts from the CRM.',
  key: 'externalId',
  columns: [
    { name: 'externalId', type: 'text', required: true, example: 'crm-0042', description: 'The CRM account id.' },
    { name: 'name', type: 'text', required: true, example: 'Acme Corp', description: 'The account name.' },
    { name: 'domain', type: 'text', required: false, example: 'acme.example', description: 'Its web domain.' },
    { name: 'segment', type: 'text', required: true, example: segments.join(' | '), description: 'The segment.' },
    { name: 'arrCents', type: 'int', required: true, example: '1200000', description: 'ARR in whole cents.' },
    { name: 'csmId', type: 'text', required: false, example: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', description: 'The Lifeline id of the CSM; omitted keeps the current one.' },
    { name: 'aeId', type: 'text', required: false, example: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', description: 'The Lifeline id of the AE.' },
    { name: 'contractStart', type: 'date', required: false, example: '2026-01-01', description: 'Contract start.' },
    { name: 'contractEnd', type: 'date', required: false, example: '2026-12-31', description: 'Contract end; opens the renewal in its window.' },
    { name: 'stageKey', type: 'text', required: false, example: 'onboarding', description: 'Stage of a new account (pre_onboarding by default); ignored for existing ones.' },
  ],
  schema: upsertAccountSchema,
  write: {
    mode: 'batch',
    maxBatch: MAX_UPSERT_ACCOUNTS,
    local: async ({ db, actor, renewalWindowDays }, rows) => {
      await upsertAccounts(db, {
        actor,
        renewalWindowDays,
        accounts: rows.map((row) => ({
          externalId: text(row.externalId) ?? '',
          name: text(row.name) ?? '',
          domain: text(row.domain),
          segment: row.segment as (typeof segments)[number],
          arrCents: Number(row.arrCents),
          csmId: text(row.csmId),
          aeId: text(row.aeId),
          contractStart: text(row.contractStart),
          contractEnd: text(row.contractEnd),
          stageKey: text(row.stageKey),
        })),
      });
      return [];
    },
    mutation: 'mutation Import($rows: [UpsertAccountInput!]!) { upsertAccounts(accounts: $rows) { created updated } }',
  },
};

const people: ImportKind = {
  name: 'people',
  summary: 'The team: CSMs, AEs, managers and admins.',
  key: 'email (case-insensitive)',
  columns: [
    { name: 'email', type: 'text', required: true, example: 'dana@example.com', description: 'Their work email; Lifeline links their Slack user by it when slackUserId is empty.' },
    { name: 'name', type: 'text', required: true, example: 'Dana Reyes', description: 'Their name.' },
    { name: 'role', type: 'text', required: true, example: userRoles.join(' | '), description: 'Their role in Lifeline.' },
    { name: 'slackUserId', type: 'text', required: false, example: 'U024BE7LH', description: 'Their Slack member id; omitted keeps the current link.' },
    { name: 'managerEmail', type: 'text', required: false, example: 'morgan@example.com', description: 'Whom they report to (a manager or admin in Lifeline or earlier in the file).' },
  ],
  schema: personSchema,
  write: {
    mode: 'batch',
    maxBatch: MAX_UPSERT_PEOPLE,
    local: async ({ db, actor }, rows) => {
      await upsertPeople(db, {
        actor,
        people: rows.map((row) => ({
          email: text(row.email) ?? '',
          name: text(row.name) ?? '',
          role: row.role as (typeof userRoles)[number],
          slackUserId: text(row.slackUserId),
          managerEmail: text(row.managerEmail),
        })),
      });
      return [];
    },
    mutation: 'mutation Import($rows: [PersonInput!]!) { upsertPeople(people: $rows) { created updated } }',
  },
};

const usage: ImportKind = {
  name: 'usage',
  summary: 'Daily product usage, one row per account and day.',
  key: 'account and day',
  columns: [
    ...accountColumns,
    { name: 'day', type: 'date', required: true, example: '2026-03-01', description: 'The calendar day.' },
    { name: 'activeUsers', type: 'int', required: true, example: '42', description: 'Users active that day.' },
    { name: 'seats', type: 'int', required: true, example: '50', description: 'Seats paid for.' },
    { name: 'keyEvents', type: 'int', required: false, example: '120', description: 'Key product events (0 when empty).' },
    { name: 'advancedEvents', type: 'int', required: false, example: '8', description: 'Uses of advanced features (0 when empty).' },
  ],
  schema: usageRowSchema,
  // The cells are already the fields of a usage row (an empty one left out, so its default applies).
  parse: (row) => checkUsageRow(row),
  write: {
    mode: 'batch',
    maxBatch: Math.min(MAX_USAGE_ROWS, USAGE_CHUNK_ROWS),
    local: async ({ db, actor }, _rows, checked) => {
      await recordUsage(db, { actor, rows: checked as CheckedUsageRow[] });
      return [];
    },
    mutation: 'mutation Import($rows: [UsageDayInput!]!) { recordUsage(rows: $rows) { written } }',
  },
  // An account's days are its own rows: two accounts' usage never meets in one row, index entry or lock.
  accountOf,
};

const touches: ImportKind = {
  name: 'touches',
  summary: 'Contacts between the team and customers (CRM activities).',
  key: 'externalId (rows without one are added again on a second import)',
  columns: [
    ...accountColumns,
    { name: 'kind', type: 'text', required: true, example: touchKinds.join(' | '), description: 'How the contact happened.' },
    { name: 'occurredAt', type: 'datetime', required: true, example: '2026-03-01T15:30:00Z', description: 'When.' },
    { name: 'userEmail', type: 'text', required: false, example: 'dana@example.com', description: 'Who from the team was in contact.' },
    { name: 'externalId', type: 'text', required: false, example: 'act-9001', description: 'The CRM activity id.' },
  ],
  schema: touchRowSchema,
  write: {
    mode: 'batch',
    maxBatch: MAX_TOUCH_ROWS,
    local: async ({ db, actor }, rows) => {
      const result = await recordTouches(db, {
        actor,
        rows: rows.map((row) => ({
          ...accountRef(row),
          kind: row.kind as (typeof touchKinds)[number],
          occurredAt: row.occurredAt as Date,
          userEmail: text(row.userEmail),
          externalId: text(row.externalId),
        })),
      });
      return result.accountIds;
    },
    mutation: 'mutation Import($rows: [TouchInput!]!) { recordTouches(rows: $rows) { written } }',
  },
};

const tickets: ImportKind = {
  name: 'tickets',
  summary: 'Support tickets, open or resolved.',
  key: 'externalId (rows without one are added again on a second import)',
  columns: [
    ...accountColumns,
    { name: 'externalId', type: 'text', required: false, example: 'zd-1234', description: 'The help desk ticket id.' },
    { name: 'severity', type: 'text', required: true, example: ticketSeverities.join(' | '), description: 'How urgent.' },
    { name: 'subject', type: 'text', required: true, example: 'Export fails on large reports', description: 'The subject line.' },
    { name: 'openedAt', type: 'datetime', required: true, example: '2026-03-01T09:00:00Z', description: 'When it was opened.' },
    { name: 'resolvedAt', type: 'datetime', required: false, example: '2026-03-02T17:00:00Z', description: 'When it was resolved; empty while open.' },
  ],
  schema: ticketSchema,
  check: (row) =>
    row.resolvedAt !== null && row.resolvedAt !== undefined && !row.externalId
      ? { column: 'externalId', problem: 'a resolved ticket needs its help desk id, so that importing the file again resolves the same ticket' }
      : undefined,
  write: {
    mode: 'row',
    local: async ({ db, actor }, row) => {
      const ticket = await recordTicket(db, {
        actor,
        ...accountRef(row),
        externalId: text(row.externalId),
        severity: row.severity as (typeof ticketSeverities)[number],
        subject: text(row.subject) ?? '',
        openedAt: row.openedAt as Date,
      });
      if (row.resolvedAt instanceof Date) await resolveTicket(db, { actor, ticketId: ticket.id, resolvedAt: row.resolvedAt });
      return [ticket.accountId];
    },
    remote: (row) => {
      const opened = {
        mutation:
          'mutation Import($accountId: ID, $accountExternalId: String, $externalId: String, $severity: TicketSeverity!, $subject: String!, $openedAt: DateTime!) { recordTicket(accountId: $accountId, accountExternalId: $accountExternalId, externalId: $externalId, severity: $severity, subject: $subject, openedAt: $openedAt) { id } }',
        variables: { ...accountRef(row), externalId: text(row.externalId), severity: row.severity, subject: row.subject, openedAt: row.openedAt },
      };
      if (!(row.resolvedAt instanceof Date) || !row.externalId) return [opened];
      return [
        opened,
        {
          mutation: 'mutation Import($externalId: String!, $resolvedAt: DateTime!) { resolveTicket(externalId: $externalId, resolvedAt: $resolvedAt) { id } }',
          variables: { externalId: row.externalId, resolvedAt: row.resolvedAt },
        },
      ];
    },
  },
};

const nps: ImportKind = {
  name: 'nps',
  summary: 'NPS (0-10) and CSAT (1-5) survey answers.',
  key: 'externalId (rows without one are added again on a second import)',
  columns: [
    ...accountColumns,
    { name: 'externalId', type: 'text', required: false, example: 'resp-77', description: 'The survey tool response id.' },
    { name: 'kind', type: 'text', required: false, example: surveyKinds.join(' | '), description: 'nps when empty.' },
    { name: 'score', type: 'int', required: true, example: '9', description: 'NPS 0 to 10, CSAT 1 to 5.' },
    { name: 'respondentEmail', type: 'text', required: false, example: 'ops@acme.example', description: 'Who answered.' },
    { name: 'respondentRole', type: 'text', required: false, example: 'Head of Ops', description: 'Their role.' },
    { name: 'comment', type: 'text', required: false, example: 'Great support', description: 'Their comment.' },
    { name: 'respondedAt', type: 'datetime', required: true, example: '2026-03-01T12:00:00Z', description: 'When they answered.' },
  ],
  schema: surveySchema,
  write: {
    mode: 'row',
    local: async ({ db, actor }, row) => {
      const answer = await recordNps(db, {
        actor,
        ...accountRef(row),
        externalId: text(row.externalId),
        kind: (text(row.kind) ?? 'nps') as (typeof surveyKinds)[number],
        score: Number(row.score),
        respondentEmail: text(row.respondentEmail),
        respondentRole: text(row.respondentRole),
        comment: text(row.comment),
        respondedAt: row.respondedAt as Date,
      });
      return [answer.accountId];
    },
    remote: (row) => [
      {
        mutation:
          'mutation Import($accountId: ID, $accountExternalId: String, $externalId: String, $kind: SurveyKind, $score: Int!, $respondentEmail: String, $respondentRole: String, $comment: String, $respondedAt: DateTime!) { recordNps(accountId: $accountId, accountExternalId: $accountExternalId, externalId: $externalId, kind: $kind, score: $score, respondentEmail: $respondentEmail, respondentRole: $respondentRole, comment: $comment, respondedAt: $respondedAt) { id } }',
        variables: {
          ...accountRef(row),
          externalId: text(row.externalId),
          kind: text(row.kind) ?? 'nps',
          score: row.score,
          respondentEmail: text(row.respondentEmail),
          respondentRole: text(row.respondentRole),
          comment: text(row.comment),
          respondedAt: row.respondedAt,
        },
      },
    ],
  },
};

const revenue: ImportKind = {
  name: 'revenue',
  summary: 'MRR movements from billing, in the order they happened.',
  key: 'externalId (rows without one are added again on a second import)',
  columns: [
    ...accountColumns,
    { name: 'externalId', type: 'text', required: false, example: 'inv-5512', description: 'The billing system id of the movement.' },
    { name: 'kind', type: 'text', required: true, example: revenueChangeKinds.join(' | '), description: 'The movement.' },
    { name: 'mrrDeltaCents', type: 'int', required: true, example: '-25000', description: 'Signed whole cents: positive for new, expansion, reactivation; negative for contraction, churn.' },
    { name: 'effectiveDate', type: 'date', required: true, example: '2026-03-01', description: 'When it took effect.' },
    { name: 'note', type: 'text', required: false, example: 'Added 10 seats', description: 'A note.' },
  ],
  schema: revenueSchema,
  write: {
    mode: 'row',
    local: async ({ db, actor }, row) => {
      const change = await recordRevenueChange(db, {
        actor,
        ...accountRef(row),
        externalId: text(row.externalId),
        kind: row.kind as (typeof revenueChangeKinds)[number],
        mrrDeltaCents: Number(row.mrrDeltaCents),
        effectiveDate: text(row.effectiveDate) ?? '',
        note: text(row.note),
      });
      return [change.accountId];
    },
    remote: (row) => [
      {
        mutation:
          'mutation Import($accountId: ID, $accountExternalId: String, $externalId: String, $kind: RevenueChangeKind!, $mrrDeltaCents: Float!, $effectiveDate: Date!, $note: String) { recordRevenueChange(accountId: $accountId, accountExternalId: $accountExternalId, externalId: $externalId, kind: $kind, mrrDeltaCents: $mrrDeltaCents, effectiveDate: $effectiveDate, note: $note) { id } }',
        variables: {
          ...accountRef(row),
          externalId: text(row.externalId),
          kind: row.kind,
          mrrDeltaCents: row.mrrDeltaCents,
          effectiveDate: row.effectiveDate,
          note: text(row.note),
        },
      },
    ],
  },
};

export const IMPORT_KINDS: Record<ImportKindName, ImportKind> = { accounts, people, usage, tickets, nps, touches, revenue };

export function isImportKind(name: string): name is ImportKindName {
  return (importKinds as readonly string[]).includes(name);
}
