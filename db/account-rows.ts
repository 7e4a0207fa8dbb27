// Accounts read beside their stage, latest health and owners in one prepared statement, as plain values by
// position: the select list of each joined table, the decoding of a statement row back into typed rows, and the
// statements kept per shape so each is built once. What is read and who may read it is decided in domain/.
import { Column, type Placeholder, type Query, type SQL, type Table, eq, fillPlaceholders, getTableColumns, sql } from 'drizzle-orm';
import { type PgColumn, alias } from 'drizzle-orm/pg-core';
import { type Db, queryValues } from './client.ts';
import { accountHealth, accounts, healthSummaryColumns, lifecycleStages, users } from './schema.ts';

/**
 * The columns of one joined table in a statement, and how to turn them back into a row. The statement reads
 * plain columns by position and converts each value with its own column's driver mapping, exactly as drizzle
 * would: profiled (bench/dashboard-profile.ts), drizzle's per-field result mapping and a JSON object per joined
 * table cost more CPU, in Node and in PostgreSQL, than the rest of a dashboard request. The columns come from the
 * schema, so a column added there appears here by itself; test/api-accounts.test.ts compares the rows with a
 * plain drizzle select.
 */
export interface RowPart<Row> {
  /** Selected columns (of the table or its alias), keyed uniquely within the statement; some read as JSON (readAs). */
  fields: Record<string, PgColumn | SQL.Aliased>;
  decode: (values: readonly unknown[], offset: number) => Row | null;
  width: number;
}

/** The row a set of columns reads as, as drizzle types a select of them. */
type RowOf<Columns extends Record<string, Column>> = {
  [Key in keyof Columns]: Columns[Key]['_']['notNull'] extends true ? Columns[Key]['_']['data'] : Columns[Key]['_']['data'] | null;
};

/**
 * `columns` are the table's columns to read (all of them, or a read model such as healthSummaryColumns); `source`
 * is the table itself or the alias the statement joins it as.
 */
export function rowPart<Columns extends Record<string, Column>>(name: string, columns: Columns, source: Table, keyColumn: keyof Columns & string): RowPart<RowOf<Columns>> {
  const entries = Object.entries(columns);
  const keyIndex = entries.findIndex(([key]) => key === keyColumn);
  // Text, uuid and enum columns keep drizzle's identity mapping: their values are used as they arrive.
  const converters = entries.map(([, column]) =>
    column.mapFromDriverValue === Column.prototype.mapFromDriverValue ? null : (value: unknown) => column.mapFromDriverValue(value),
  );
  return {
    fields: Object.fromEntries(entries.map(([key, column]) => [`${name}.${key}`, readAs(Reflect.get(source, key) as PgColumn, column, `${name}.${key}`)])),
    width: entries.length,
    decode: (values, offset) => {
      // A left join that found nothing has a null key.
      if (values[offset + keyIndex] === null) return null;
      const row: Record<string, unknown> = {};
      for (let index = 0; index < entries.length; index += 1) {
        const value = values[offset + index] ?? null;
        const convert = converters[index];
        row[(entries[index] as [string, Column])[0]] = value === null || !convert ? value : convert(value);
      }
      return row as RowOf<Columns>;
    },
  };
}

/**
 * How a statement reads a column: as itself, or an array of numbers as JSON. postgres.js parses an array's text
 * character by character in JS (arrayParserLoop), and the facts of each health row (29 numbers) cost a dashboard
 * page more CPU than the rest of its decoding; JSON.parse reads the same values natively. The column's own mapping
 * still converts the value: it takes an array of items as it takes the array's text (drizzle's arrays and the facts
 * column both do), and numbers as it takes their text.
 */
function readAs(source: PgColumn, column: Column, alias: string): PgColumn | SQL.Aliased {
  return /^(bigint|integer|smallint|real|double precision)\[\]$/.test(column.getSQLType()) ? sql`array_to_json(${source})`.as(alias) : source;
}

/**
 * A row read with only some of its columns: always its key; any other column undefined when it was not read (a
 * column read as NULL is null). What reads it must fall back to the whole row for a column it does not carry.
 */
export type PartialRow<Row, Key extends keyof Row> = Pick<Row, Key> & Partial<Omit<Row, Key>>;

/**
 * The part of a table read with its key and the `selected` columns only, taken in the table's column order so that
 * the same columns asked in another order make the same part.
 */
export function partialRowPart<Row, Key extends keyof Row & string>(
  name: string,
  columns: { [Column in keyof Row]: PgColumn },
  source: Table,
  key: Key,
  selected: readonly (keyof Row)[],
): RowPart<PartialRow<Row, Key>> {
  const part = rowPart(name, pickColumns(columns, [key, ...selected]), source, key);
  // The decoded row holds exactly the picked columns, each converted as drizzle reads it: a partial Row.
  return { ...part, decode: (values, offset) => part.decode(values, offset) as PartialRow<Row, Key> | null };
}

/** These of a table's columns, in the table's column order. */
export function pickColumns<Row>(columns: { [Column in keyof Row]: PgColumn }, wanted: readonly (keyof Row)[]): Record<string, PgColumn> {
  const set = new Set<unknown>(wanted);
  const picked: Record<string, PgColumn> = {};
  for (const [column, definition] of Object.entries<PgColumn>(columns)) if (set.has(column)) picked[column] = definition;
  return picked;
}

type PartRows<Parts extends Record<string, RowPart<unknown>>> = { [Key in keyof Parts]: ReturnType<Parts[Key]['decode']> };

/** The select list of several parts, in the order of `parts`: decodeParts reads them back in the same order. */
export function partFields(parts: Record<string, RowPart<unknown>>): Record<string, PgColumn | SQL.Aliased> {
  return Object.assign({}, ...Object.values(parts).map((part) => part.fields));
}

/** One statement row (plain values by position) as the rows of its parts; `rest` is what follows them. */
export function decodeParts<Parts extends Record<string, RowPart<unknown>>>(parts: Parts, values: readonly unknown[]): { rows: PartRows<Parts>; rest: readonly unknown[] } {
  const rows: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, part] of Object.entries(parts)) {
    rows[name] = part.decode(values, offset);
    offset += part.width;
  }
  return { rows: rows as PartRows<Parts>, rest: values.slice(offset) };
}

/** The owners as a statement joins them beside an account. */
export const csmUser = alias(users, 'csm_user');
export const aeUser = alias(users, 'ae_user');

/** The parts selectAccountsWithRelations joins: the account, its stage, latest health and owners. */
export const accountRelationParts = {
  account: rowPart('account', getTableColumns(accounts), accounts, 'id'),
  stage: rowPart('stage', getTableColumns(lifecycleStages), lifecycleStages, 'key'),
  health: rowPart('health', healthSummaryColumns, accountHealth, 'accountId'),
  csm: rowPart('csm', getTableColumns(users), csmUser, 'id'),
  ae: rowPart('ae', getTableColumns(users), aeUser, 'id'),
};

/** Accounts joined with their stage, latest health and owners: what a listing and a card both read beside one. */
export function selectAccountsWithRelations(db: Db, fields: Record<string, PgColumn | SQL.Aliased>) {
  return db
    .select(fields)
    .from(accounts)
    .innerJoin(lifecycleStages, eq(lifecycleStages.key, accounts.stageKey))
    .leftJoin(accountHealth, eq(accountHealth.accountId, accounts.id))
    .leftJoin(csmUser, eq(csmUser.id, accounts.csmId))
    .leftJoin(aeUser, eq(aeUser.id, accounts.aeId));
}

/**
 * A LIMIT written into the statement text instead of sent as a parameter. PostgreSQL plans `limit $1` for an
 * unknown count (a tenth of the table), so that generic plan always looks worse than a custom one and a prepared
 * page query would be planned again on every execution; with the count in the text, each page size is planned
 * once per connection (EXPLAIN ANALYZE on 100k accounts: planning took longer than running the page).
 * Drizzle's `limit()` writes an SQL object verbatim; its type admits only a number or a placeholder.
 * SECURITY: only a whole number from 0 to `max` becomes SQL text.
 */
export function inlineLimit(rows: number, max: number): Placeholder {
  if (!Number.isInteger(rows) || rows < 0 || rows > max) throw new Error(`Page limit ${rows} is out of bounds`);
  return sql.raw(String(rows)) as unknown as Placeholder;
}

export interface StatementCache {
  /**
   * Runs the statement of this shape with these values for its placeholders, building it (`build`) the first
   * time the shape is seen. postgres.js then prepares it once per connection.
   */
  run(db: Db, shape: string, build: () => Query, values: Record<string, unknown>): Promise<unknown[][]>;
}

/** Statement texts and parameters (placeholders) by shape: at most `limit` shapes, the oldest dropped first. */
export function statementCache(limit: number): StatementCache {
  const statements = new Map<string, Query>();
  return {
    run(db, shape, build, values) {
      let statement = statements.get(shape);
      if (!statement) {
        statement = build();
        if (statements.size >= limit) statements.delete(statements.keys().next().value ?? '');
        statements.set(shape, statement);
      }
      return queryValues(db, statement.sql, fillPlaceholders(statement.params, values));
    },
  };
}
