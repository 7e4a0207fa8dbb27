import { type SQL, and, eq, isNull, sql } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { type Db, type Tx, hasDatabaseCode, queryPreparedRows, queryRows } from '../db/client.ts';
import { type SurveyResponse, type Ticket, firstValues, surveyKinds, surveyResponses, ticketSeverities, tickets, touchKinds } from '../db/schema.ts';
import { readableOwnerId, requireAccess } from './access.ts';
import { addDays, isoDay } from './dates.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';
import { isUuid, parseInput } from './validation.ts';

/** Rows per statement: big enough to amortise a round trip, small enough to keep one statement's memory modest. */
export const USAGE_CHUNK_ROWS = 10_000;
/** One call may carry this many days; larger loads are split by the caller. */
export const MAX_USAGE_ROWS = 100_000;
/** PostgreSQL's SQLSTATE for a row whose foreign key names no row. */
const FOREIGN_KEY_VIOLATION = '23503';

const accountRef = {
  accountId: z.uuid('must be a Lifeline account id').nullish(),
  accountExternalId: z.string().trim().min(1).max(200).nullish(),
};
const hasAccount = (row: { accountId?: string | null | undefined; accountExternalId?: string | null | undefined }) =>
  Boolean(row.accountId) !== Boolean(row.accountExternalId);
const accountMessage = 'give exactly one of accountId (Lifeline id) or accountExternalId (CRM id)';

/** The most a usage count may be: well inside PostgreSQL's integer. */
const MAX_COUNT = 2_000_000_000;
const count = z.number().int('must be a whole number').min(0, 'cannot be negative').max(MAX_COUNT);
export const usageRowSchema = z
  .object({
    ...accountRef,
    day: z.iso.date('use a calendar date written YYYY-MM-DD'),
    activeUsers: count,
    seats: count,
    keyEvents: count.default(0),
    advancedEvents: count.default(0),
  })
  .refine(hasAccount, { message: accountMessage, path: ['accountId'] });

export type UsageRowInput = z.input<typeof usageRowSchema>;
/** A usage row as usageRowSchema leaves it: defaults filled in, text trimmed. */
type UsageRow = Readonly<z.output<typeof usageRowSchema>>;

/** The patterns usageRowSchema checks an account id and a day with, read from it so that the two cannot drift. */
const accountIdPattern = usageRowSchema.shape.accountId.unwrap().unwrap().def.pattern;
const dayPattern = usageRowSchema.shape.day.def.pattern;
const usageRowFields: ReadonlySet<string> = new Set(Object.keys(usageRowSchema.shape));

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_COUNT;

/**
 * The usual row of a bulk call (an account by id, a day, whole counts, no other field) recognised without zod, or
 * undefined for any other row, which usageRowSchema then checks. It admits only rows the schema admits and gives
 * what the schema would: zod takes about 1.5 µs a row, a tenth of a 10,000-row chunk's time, this a fraction of
 * that. A field the schema does not know sends the row to the schema too, as parseInput looks at it for NULs.
 */
function usualUsageRow(input: unknown): UsageRow | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || !accountIdPattern || !dayPattern) return undefined;
  for (const key of Object.keys(input)) if (!usageRowFields.has(key)) return undefined;
  const fields: { readonly [field in keyof UsageRow]?: unknown } = input;
  // As the schema's defaults: a count left out (undefined, not null) is 0.
  const { accountId, accountExternalId, day, activeUsers, seats, keyEvents = 0, advancedEvents = 0 } = fields;
  if (typeof accountId !== 'string' || !accountIdPattern.test(accountId) || (accountExternalId !== undefined && accountExternalId !== null)) return undefined;
  if (typeof day !== 'string' || !dayPattern.test(day)) return undefined;
  if (!isCount(activeUsers) || !isCount(seats) || !isCount(keyEvents) || !isCount(advancedEvents)) return undefined;
  return { accountId, accountExternalId, day, activeUsers, seats, keyEvents, advancedEvents };
}

/** A usage row as usageRowSchema leaves it, or the InvalidInputError it raises, `field` prefixing the field named. */
function checkedUsageRow(input: unknown, field: string): UsageRow {
  return usualUsageRow(input) ?? parseInput(usageRowSchema, input, field);
}

/**
 * A usage row checked by usageRowSchema, which recordUsage takes without checking it again. Making one checks the
 * row, so every one was checked; its fields are private and read-only, so it stays what was checked.
 */
class CheckedUsageRow implements UsageRow {
  readonly #accountId: string | null | undefined;
  readonly #accountExternalId: string | null | undefined;
  readonly #day: string;
  readonly #activeUsers: number;
  readonly #seats: number;
  readonly #keyEvents: number;
  readonly #advancedEvents: number;

  /** Checking is making one: there is no other way to get one. */
  constructor(input: unknown, field: string) {
    const row = checkedUsageRow(input, field);
    this.#accountId = row.accountId;
    this.#accountExternalId = row.accountExternalId;
    this.#day = row.day;
    this.#activeUsers = row.activeUsers;
    this.#seats = row.seats;
    this.#keyEvents = row.keyEvents;
    this.#advancedEvents = row.advancedEvents;
  }

  /** True only for a row made by checking (an object merely shaped like one, or made from its prototype, is not). */
  static holds(row: unknown): row is CheckedUsageRow {
    return typeof row === 'object' && row !== null && #day in row;
  }

  get accountId() {
    return this.#accountId;
  }
  get accountExternalId() {
    return this.#accountExternalId;
  }
  get day() {
    return this.#day;
  }
  get activeUsers() {
    return this.#activeUsers;
  }
  get seats() {
    return this.#seats;
  }
  get keyEvents() {
    return this.#keyEvents;
  }
  get advancedEvents() {
    return this.#advancedEvents;
  }
}
export type { CheckedUsageRow };

/**
 * Checks one usage row with the schema recordUsage applies, for a caller that checks rows as it reads them (the
 * importer, which names a bad row by its line): recordUsage then takes the returned row without checking it again;
 * every other row given to recordUsage (an API call's) is checked there. `field` prefixes the field named in an
 * error, as in `rows[3]`.
 */
export function checkUsageRow(row: unknown, field = ''): CheckedUsageRow {
  return new CheckedUsageRow(row, field);
}

export interface RecordUsageParams {
  /** Rows as an API call sends them, or rows checkUsageRow returned. */
  rows: readonly (UsageRowInput | CheckedUsageRow)[];
  actor: Actor;
}

export interface UsageResult {
  /** Rows written (after collapsing repeats of the same account and day within the call; the last one wins). */
  written: number;
}

/**
 * A PostgreSQL array literal of `values` for a `$n::type[]` parameter: one text parameter per column costs the
 * server less to read than a JSON document of objects, and the client less to write. Quoted, backslashes and double
 * quotes escaped, unless the caller knows its values need no quoting (ids, dates and numbers checked by usageRowSchema).
 */
function arrayLiteral(values: readonly (string | number | null | undefined)[], quote: boolean): string {
  let text = '{';
  for (let index = 0; index < values.length; index += 1) {
    const value = values[index];
    if (index > 0) text += ',';
    if (value === null || value === undefined) text += 'NULL';
    else if (quote) text += `"${String(value).replace(/[\\"]/g, (character) => `\\${character}`)}"`;
    else text += String(value);
  }
  return `${text}}`;
}

/**
 * One chunk of usage rows (one array per column) upserted in one statement, which answers with the position
 * (1-based) of the first row whose account Lifeline does not have, null when there is none. The join that resolves
 * each row's account flags a miss as a null account in the same pass; a chunk with a miss writes nothing. Chunks that
 * name accounts by CRM id need it; a chunk naming every account by id is written by insertUsageChunkById, and comes
 * here only to name the row its foreign key refused. The texts never change, so a connection prepares each once.
 */
function upsertUsageChunk(rows: readonly UsageRow[]): SQL {
  const byExternalId = rows.some((row) => !row.accountId);
  const column = (pick: (row: UsageRow) => string | number | null | undefined, quote = false) => arrayLiteral(rows.map(pick), quote);
  const days = column((row) => row.day);
  const users = column((row) => row.activeUsers);
  const seats = column((row) => row.seats);
  const keyEvents = column((row) => row.keyEvents);
  const advancedEvents = column((row) => row.advancedEvents);
  const input = byExternalId
    ? sql`select r.n, coalesce(by_id.id, by_external_id.id) as account_id, r.d, r.u, r.s, r.k, r.v
    from unnest(${column((row) => row.accountId)}::uuid[], ${column((row) => (row.accountId ? null : row.accountExternalId), true)}::text[],
                ${days}::date[], ${users}::int[], ${seats}::int[], ${keyEvents}::int[], ${advancedEvents}::int[])
      with ordinality as r(a, x, d, u, s, k, v, n)
    left join accounts by_id on by_id.id = r.a
    left join accounts by_external_id on r.a is null and by_external_id.external_id = r.x`
    : sql`select r.n, by_id.id as account_id, r.d, r.u, r.s, r.k, r.v
    from unnest(${column((row) => row.accountId)}::uuid[], ${days}::date[], ${users}::int[], ${seats}::int[], ${keyEvents}::int[], ${advancedEvents}::int[])
      with ordinality as r(a, d, u, s, k, v, n)
    left join accounts by_id on by_id.id = r.a`;
  return sql`
  with input as materialized (${input}),
  upserted as (
    insert into usage_daily (account_id, day, active_users, seats, key_events, advanced_events)
    select account_id, d, u, s, k, v from input
    where not exists (select from input where account_id is null)
    on conflict (account_id, day) do update set
      active_users = excluded.active_users, seats = excluded.seats,
      key_events = excluded.key_events, advanced_events = excluded.advanced_events
  )
  select min(n)::int as unknown_at from input where account_id is null`;
}

/**
 * A chunk whose rows all name their account by id (an integration's usual call, and every import by id), upserted
 * straight from the arrays: the foreign key to accounts refuses the statement if one of them is unknown, so nothing
 * else looks the accounts up. Skipping the join and the materialised input that upsertUsageChunk needs to answer
 * with the unknown row makes such a chunk cost less; the refusal itself does not say which row, so the caller asks
 * upsertUsageChunk then.
 */
function insertUsageChunkById(rows: readonly UsageRow[]): SQL {
  const column = (pick: (row: UsageRow) => string | number | null | undefined) => arrayLiteral(rows.map(pick), false);
  return sql`
  insert into usage_daily (account_id, day, active_users, seats, key_events, advanced_events)
  select * from unnest(${column((row) => row.accountId)}::uuid[], ${column((row) => row.day)}::date[], ${column((row) => row.activeUsers)}::int[],
                       ${column((row) => row.seats)}::int[], ${column((row) => row.keyEvents)}::int[], ${column((row) => row.advancedEvents)}::int[])
  on conflict (account_id, day) do update set
    active_users = excluded.active_users, seats = excluded.seats,
    key_events = excluded.key_events, advanced_events = excluded.advanced_events`;
}

/**
 * Daily product usage, idempotent on account and day: re-sending a day replaces it. All or nothing: a row naming
 * an account Lifeline does not have rejects the call, naming the row. Set-based: each chunk of USAGE_CHUNK_ROWS is
 * one INSERT … SELECT over unnested column arrays, which both PGlite and PostgreSQL run as a single statement; a call
 * of one chunk is that statement alone, a longer one runs its chunks in one transaction.
 */
export async function recordUsage(db: Db | Tx, params: RecordUsageParams): Promise<UsageResult> {
  requireAccess(params.actor, 'ingest');
  if (params.rows.length > MAX_USAGE_ROWS) {
    throw new InvalidInputError(`Send at most ${MAX_USAGE_ROWS} usage rows per call; split the load into several calls.`, 'rows');
  }
  const rows: UsageRow[] = params.rows.map((row, index) => (CheckedUsageRow.holds(row) ? row : checkedUsageRow(row, `rows[${index}]`)));
  // Later rows win for the same account and day (ON CONFLICT cannot touch one row twice in a statement): walking
  // from the end keeps each one's last row, and the kept rows go in call order, so positions follow row indexes.
  const seen = new Set<string>();
  const kept: number[] = [];
  for (let index = rows.length - 1; index >= 0; index -= 1) {
    const row = rows[index] as UsageRow;
    const key = row.accountId ? `${row.accountId.toLowerCase()}|${row.day}` : `#${row.accountExternalId ?? ''}|${row.day}`;
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push(index);
  }
  kept.reverse();
  // Resolves each row's account in the statement, answering with the first unknown one (the chunk then writes nothing).
  const upsertResolving = async (target: Db | Tx, chunk: readonly number[]) => {
    const [answer] = await queryPreparedRows<{ unknown_at: number | null }>(target, upsertUsageChunk(chunk.map((index) => rows[index] as UsageRow))).catch((error: unknown) => {
      // Rows are told apart by how they name their account; one naming it by id and another by its CRM id on the
      // same day meet only in the upsert, which PostgreSQL refuses as a cardinality violation.
      throw hasDatabaseCode(error, '21000') ? sameAccountTwiceError() : error;
    });
    const unknownAt = answer?.unknown_at;
    // The first miss of the call: chunks go in row order, and rows within a chunk too.
    if (unknownAt !== null && unknownAt !== undefined) throw unknownAccountError(rows, chunk[unknownAt - 1] ?? -1);
  };
  const writeChunk = async (target: Db | Tx, start: number) => {
    const chunk = kept.slice(start, start + USAGE_CHUNK_ROWS);
    const chunkRows = chunk.map((index) => rows[index] as UsageRow);
    if (chunkRows.some((row) => !row.accountId)) return upsertResolving(target, chunk);
    const byId = insertUsageChunkById(chunkRows);
    try {
      // A refused statement outside a transaction leaves nothing behind; inside one it would end the transaction
      // (the caller's, or the call's own across chunks), so there it runs in a savepoint the refusal rolls back.
      if (target instanceof PgTransaction) await target.transaction((savepoint) => queryPreparedRows(savepoint, byId));
      else await queryPreparedRows(target, byId);
    } catch (error) {
      if (!hasDatabaseCode(error, FOREIGN_KEY_VIOLATION)) throw error;
      // An account is unknown: the resolving statement names the row, as the call's answer must.
      await upsertResolving(target, chunk);
    }
  };
  if (kept.length <= USAGE_CHUNK_ROWS) {
    // One statement is all or nothing by itself.
    if (kept.length > 0) await writeChunk(db, 0);
  } else {
    // Throwing rolls back the whole call: a load is all or nothing, so a retry after fixing it is safe.
    await db.transaction(async (tx) => {
      for (let start = 0; start < kept.length; start += USAGE_CHUNK_ROWS) await writeChunk(tx, start);
    });
  }
  return { written: kept.length };
}

function sameAccountTwiceError(): InvalidInputError {
  return new InvalidInputError(
    'rows: one account has two rows for the same day, one naming it by accountId and one by accountExternalId. Name each account one way within a call; nothing was written.',
    'rows',
  );
}

/** A batch row naming an account Lifeline does not have: which row, which field, and what to do. */
function unknownAccountError(rows: readonly { accountId?: string | null; accountExternalId?: string | null }[], index: number): InvalidInputError {
  const row = rows[index];
  const field = row?.accountId ? 'accountId' : 'accountExternalId';
  return new InvalidInputError(
    `rows[${index}].${field}: no account ${row?.accountId ?? row?.accountExternalId}. Create it first with upsertAccounts.`,
    `rows[${index}].${field}`,
  );
}

async function resolveAccountId(db: Db | Tx, ref: { accountId?: string | null | undefined; accountExternalId?: string | null | undefined }): Promise<string> {
  const rows = await queryRows<{ id: string }>(
    db,
    ref.accountId
      ? sql`select id from accounts where id = ${ref.accountId}`
      : sql`select id from accounts where external_id = ${ref.accountExternalId ?? ''}`,
  );
  const id = rows[0]?.id;
  if (!id) {
    const field = ref.accountId ? 'accountId' : 'accountExternalId';
    throw new NotFoundError(`No account ${ref.accountId ?? ref.accountExternalId}. Create it first with upsertAccounts.`, field);
  }
  return id;
}

export const ticketSchema = z
  .object({
    ...accountRef,
    externalId: z.string().trim().min(1).max(200).nullish(),
    severity: z.enum(ticketSeverities, `use one of ${ticketSeverities.join(', ')}`),
    subject: z.string().trim().min(1, 'the subject is required').max(500),
    openedAt: z.date('must be a valid time'),
  })
  .refine(hasAccount, { message: accountMessage, path: ['accountId'] });

export type RecordTicketParams = z.input<typeof ticketSchema> & { actor: Actor };

/** A support ticket opened; idempotent on the help desk's ticket id when given (a repeat updates it). */
export async function recordTicket(db: Db, params: RecordTicketParams): Promise<Ticket> {
  requireAccess(params.actor, 'ingest');
  const input = parseInput(ticketSchema, params);
  const accountId = await resolveAccountId(db, input);
  const values = { accountId, externalId: input.externalId ?? null, severity: input.severity, subject: input.subject, openedAt: input.openedAt };
  const [ticket] = input.externalId
    ? await db
        .insert(tickets)
        .values(values)
        .onConflictDoUpdate({ target: tickets.externalId, set: { severity: values.severity, subject: values.subject, openedAt: values.openedAt } })
        .returning()
    : await db.insert(tickets).values(values).returning();
  if (!ticket) throw new Error('Ticket insert returned no row');
  return ticket;
}

export const resolveSchema = z
  .object({
    ticketId: z.uuid('must be a Lifeline ticket id').nullish(),
    externalId: z.string().trim().min(1).max(200).nullish(),
    resolvedAt: z.date('must be a valid time'),
  })
  .refine((input) => Boolean(input.ticketId) !== Boolean(input.externalId), {
    message: 'give exactly one of ticketId or externalId',
    path: ['ticketId'],
  });

export type ResolveTicketParams = z.input<typeof resolveSchema> & { actor: Actor };

/** Marks a ticket resolved. Resolving it again keeps the first resolution time. */
export async function resolveTicket(db: Db, params: ResolveTicketParams): Promise<Ticket> {
  requireAccess(params.actor, 'ingest');
  const input = parseInput(resolveSchema, params);
  const match = input.ticketId ? eq(tickets.id, input.ticketId) : eq(tickets.externalId, input.externalId ?? '');
  const [existing] = await db.select().from(tickets).where(match);
  if (!existing) {
    throw new NotFoundError(`No ticket ${input.ticketId ?? input.externalId}. Record it first with recordTicket.`, input.ticketId ? 'ticketId' : 'externalId');
  }
  if (input.resolvedAt.getTime() < existing.openedAt.getTime()) {
    throw new InvalidInputError(`resolvedAt is before the ticket was opened (${existing.openedAt.toISOString()}).`, 'resolvedAt');
  }
  const [updated] = await db
    .update(tickets)
    .set({ resolvedAt: input.resolvedAt })
    .where(and(eq(tickets.id, existing.id), isNull(tickets.resolvedAt)))
    .returning();
  return updated ?? existing;
}

export const surveySchema = z
  .object({
    ...accountRef,
    externalId: z.string().trim().min(1).max(200).nullish(),
    kind: z.enum(surveyKinds).default('nps'),
    score: z.number().int('must be a whole number'),
    respondentEmail: z.email('must be an email address').nullish(),
    respondentRole: z.string().trim().max(200).nullish(),
    comment: z.string().trim().max(10_000).nullish(),
    respondedAt: z.date('must be a valid time'),
  })
  .refine(hasAccount, { message: accountMessage, path: ['accountId'] })
  .refine((input) => (input.kind === 'nps' ? input.score >= 0 && input.score <= 10 : input.score >= 1 && input.score <= 5), {
    message: 'NPS scores are 0 to 10 and CSAT scores 1 to 5',
    path: ['score'],
  });

export type RecordNpsParams = z.input<typeof surveySchema> & { actor: Actor };

/** An NPS or CSAT response; idempotent on the survey tool's response id when given. */
export async function recordNps(db: Db, params: RecordNpsParams): Promise<SurveyResponse> {
  requireAccess(params.actor, 'ingest');
  const input = parseInput(surveySchema, params);
  const accountId = await resolveAccountId(db, input);
  const values = {
    accountId,
    externalId: input.externalId ?? null,
    kind: input.kind,
    score: input.score,
    respondentEmail: input.respondentEmail ?? null,
    respondentRole: input.respondentRole ?? null,
    comment: input.comment ?? null,
    respondedAt: input.respondedAt,
  };
  const [response] = input.externalId
    ? await db
        .insert(surveyResponses)
        .values(values)
        .onConflictDoUpdate({ target: surveyResponses.externalId, set: { score: values.score, comment: values.comment } })
        .returning()
    : await db.insert(surveyResponses).values(values).returning();
  if (!response) throw new Error('Survey response insert returned no row');
  return response;
}

const firstValueSchema = z
  .object({ ...accountRef, reachedAt: z.date('must be a valid time'), description: z.string().trim().max(2000).nullish() })
  .refine(hasAccount, { message: accountMessage, path: ['accountId'] });

export type RecordFirstValueParams = z.input<typeof firstValueSchema> & { actor: Actor };

/** First value reached; set once per account (a repeat keeps the first time). */
export async function recordFirstValue(db: Db, params: RecordFirstValueParams): Promise<{ accountId: string; reachedAt: Date }> {
  requireAccess(params.actor, 'ingest');
  const input = parseInput(firstValueSchema, params);
  const accountId = await resolveAccountId(db, input);
  await db.insert(firstValues).values({ accountId, reachedAt: input.reachedAt, description: input.description ?? null }).onConflictDoNothing();
  const [row] = await db.select().from(firstValues).where(eq(firstValues.accountId, accountId));
  if (!row) throw new Error('First value insert returned no row');
  return { accountId, reachedAt: row.reachedAt };
}

export interface SignalsSummary {
  accountId: string;
  /** Averages over the last 30 days of usage rows. */
  avgActiveUsers30d: number | null;
  seats: number | null;
  keyEvents30d: number;
  advancedEvents30d: number;
  openTickets: number;
  urgentOpenTickets: number;
  lastNpsScore: number | null;
  lastNpsAt: Date | null;
  firstValueAt: Date | null;
  /** The latest contact between the team and the customer (recordTouches), up to now. */
  lastTouchAt: Date | null;
  csmSentiment: string | null;
}

/** One call may carry this many touches; a CRM's activity sync sends more in several calls. */
export const MAX_TOUCH_ROWS = 10_000;

export const touchRowSchema = z
  .object({
    ...accountRef,
    kind: z.enum(touchKinds, `use one of ${touchKinds.join(', ')}`),
    occurredAt: z.date('must be a valid time'),
    /** Who was in contact, matched to a Lifeline person by email; someone not in Lifeline still counts. */
    userEmail: z.email('must be an email address').nullish(),
    externalId: z.string().trim().min(1).max(200).nullish(),
  })
  .refine(hasAccount, { message: accountMessage, path: ['accountId'] });

export type TouchRowInput = z.input<typeof touchRowSchema>;

export interface RecordTouchesResult {
  /** Touches written (a repeated externalId within the call counts once; the last one wins). */
  written: number;
  /** The accounts touched, for their health to be recomputed. */
  accountIds: string[];
}

/**
 * Contact between the team and a customer (calls, meetings, emails, Slack), as a CRM's activity sync sends it:
 * the "days since last CSM touch" of the engagement component. One statement, all or nothing: an unknown account
 * rejects the call. Idempotent on externalId, the CRM activity id: a repeat updates the activity.
 */
export async function recordTouches(db: Db, params: { rows: TouchRowInput[]; actor: Actor }): Promise<RecordTouchesResult> {
  requireAccess(params.actor, 'ingest');
  if (params.rows.length > MAX_TOUCH_ROWS) {
    throw new InvalidInputError(`Send at most ${MAX_TOUCH_ROWS} touches per call; split the load into several calls.`, 'rows');
  }
  const rows = params.rows.map((row, index) => parseInput(touchRowSchema, row, `rows[${index}]`));
  // ON CONFLICT cannot touch one row twice in a statement: the last repeat of an activity id wins.
  const latest = new Map<string, number>();
  rows.forEach((row, index) => latest.set(row.externalId ?? `#${index}`, index));
  const payload = JSON.stringify(
    [...latest.values()].map((index) => {
      const row = rows[index];
      return {
        i: index,
        a: row?.accountId ?? null,
        x: row?.accountExternalId ?? null,
        k: row?.kind,
        o: row?.occurredAt.toISOString(),
        e: row?.userEmail ?? null,
        n: row?.externalId ?? null,
      };
    }),
  );
  const [result] = await queryRows<{ unknown_index: number | null; written: number; account_ids: string[] | null }>(
    db,
    sql`with input as (
          select r.i, coalesce(r.a, ext.id) as account_id, r.k::touch_kind as kind, r.o as occurred_at, r.e as email, r.n as external_id
          from json_to_recordset(${payload}::json) as r(i int, a uuid, x text, k text, o timestamptz, e text, n text)
          left join accounts ext on r.a is null and ext.external_id = r.x
        ),
        known as (
          select input.* from input join accounts on accounts.id = input.account_id
        ),
        upserted as (
          insert into csm_touches (account_id, user_id, kind, occurred_at, external_id)
          select k.account_id, u.id, k.kind, k.occurred_at, k.external_id
          from known k left join users u on lower(u.email) = lower(k.email)
          -- An input that names an unknown account writes nothing at all (checked below, in the same statement).
          where not exists (select 1 from input where input.i not in (select i from known))
          on conflict (external_id) do update set
            account_id = excluded.account_id, user_id = excluded.user_id, kind = excluded.kind, occurred_at = excluded.occurred_at
          returning account_id
        )
        select (select min(i) from input where input.i not in (select i from known)) as unknown_index,
               (select count(*)::int from upserted) as written,
               (select array_agg(distinct account_id::text) from upserted) as account_ids`,
  );
  const unknown = result?.unknown_index;
  if (unknown !== null && unknown !== undefined) throw unknownAccountError(rows, unknown);
  return { written: result?.written ?? 0, accountIds: result?.account_ids ?? [] };
}

export interface GetSignalsSummariesParams {
  accountIds: readonly string[];
  /** Who is reading: accounts the reader may not read (an AE reads only the accounts they sold) are left out. */
  reader: Actor;
  now?: Date;
}

/** One statement for any number of accounts, so a page of accounts costs the same as one. */
export async function getSignalsSummaries(db: Db, params: GetSignalsSummariesParams): Promise<SignalsSummary[]> {
  const readableAeId = readableOwnerId(params.reader);
  const now = params.now ?? new Date();
  const ids = params.accountIds.filter(isUuid);
  if (ids.length === 0) return [];
  const since = isoDay(addDays(now, -30));
  const rows = await queryRows<{
    account_id: string;
    avg_active: number | null;
    seats: number | null;
    key_events: number;
    advanced_events: number;
    open_tickets: number;
    urgent_open: number;
    nps_score: number | null;
    nps_at: string | Date | null;
    first_value_at: string | Date | null;
    last_touch_at: string | Date | null;
    sentiment: string | null;
  }>(
    db,
    sql`select ids.id as account_id,
          u.avg_active::float8 as avg_active, u.seats, coalesce(u.key_events, 0)::int as key_events,
          coalesce(u.advanced_events, 0)::int as advanced_events,
          coalesce(t.open_tickets, 0)::int as open_tickets, coalesce(t.urgent_open, 0)::int as urgent_open,
          n.score as nps_score, n.responded_at as nps_at, f.reached_at as first_value_at, c.occurred_at as last_touch_at,
          s.sentiment::text as sentiment
        from json_array_elements_text(${JSON.stringify(ids)}::json) as ids_text(value)
        cross join lateral (select ids_text.value::uuid as id) ids
        ${readableAeId ? sql`join accounts readable on readable.id = ids.id and readable.ae_id = ${readableAeId}::uuid` : sql``}
        left join lateral (
          select avg(active_users) as avg_active, max(seats) as seats, sum(key_events) as key_events, sum(advanced_events) as advanced_events
          from usage_daily where account_id = ids.id and day >= ${since}::date
        ) u on true
        left join lateral (
          select count(*) as open_tickets, count(*) filter (where severity = 'urgent') as urgent_open
          from tickets where account_id = ids.id and resolved_at is null
        ) t on true
        left join lateral (
          select score, responded_at from survey_responses where account_id = ids.id and kind = 'nps' order by responded_at desc limit 1
        ) n on true
        left join first_values f on f.account_id = ids.id
        left join lateral (
          select max(occurred_at) as occurred_at from csm_touches where account_id = ids.id and occurred_at <= ${now.toISOString()}::timestamptz
        ) c on true
        left join lateral (
          select sentiment from csm_sentiments where account_id = ids.id order by recorded_at desc limit 1
        ) s on true`,
  );
  const toDate = (value: string | Date | null) => (value === null ? null : value instanceof Date ? value : new Date(value));
  return rows.map((row) => ({
    accountId: row.account_id,
    avgActiveUsers30d: row.avg_active === null ? null : Number(row.avg_active),
    seats: row.seats === null ? null : Number(row.seats),
    keyEvents30d: Number(row.key_events),
    advancedEvents30d: Number(row.advanced_events),
    openTickets: Number(row.open_tickets),
    urgentOpenTickets: Number(row.urgent_open),
    lastNpsScore: row.nps_score === null ? null : Number(row.nps_score),
    lastNpsAt: toDate(row.nps_at),
    firstValueAt: toDate(row.first_value_at),
    lastTouchAt: toDate(row.last_touch_at),
    csmSentiment: row.sentiment,
  }));
}
