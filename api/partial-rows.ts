// Rows a listing read with only the columns its query selects (domain/accounts/listing.ts): a field answers from the
// row when the row carries its column, otherwise from the whole row, loaded once per request by its loader. A
// column that was not read is undefined, one read as NULL is null, so a field is never answered null for want of
// reading it.
import type { Selected } from './selection.ts';

export type MaybePromise<T> = T | Promise<T>;

/** A column of a row that may have been read in part: the row's own value, or the whole row's (`whole`). */
export function columnOf<Row, Column extends keyof Row>(row: Partial<Row>, column: Column, whole: () => Promise<Row>): MaybePromise<Row[Column]> {
  const value = row[column];
  // Partial<Row> adds only `undefined` to a column's type: any other value is the column's.
  return value === undefined ? whole().then((loaded) => loaded[column]) : (value as Row[Column]);
}

/** The columns a type's fields read, by field name; a field not listed reads nothing beside the row's key. */
export type FieldColumns<Row> = Partial<Record<string, readonly (keyof Row)[]>>;

/** The columns the selected fields of a type read (selectedFields), to pass to a listing. */
export function selectedColumns<Row>(selected: Selected, fieldColumns: FieldColumns<Row>): (keyof Row)[] {
  const columns: (keyof Row)[] = [];
  for (const field of selected.keys()) columns.push(...(fieldColumns[field] ?? []));
  return columns;
}

/** A whole row its loader must find: the listing that read part of it found it for the same reader. */
export async function required<Row>(row: Promise<Row | null>, what: string): Promise<Row> {
  const found = await row;
  if (!found) throw new Error(`${what} was listed but can no longer be read`);
  return found;
}

/** Whether a row read in part carries every one of these columns (all of its table's: it is the whole row). */
export function wholeRow<Row>(row: Partial<Row>, columns: readonly (keyof Row)[]): row is Row {
  return columns.every((column) => row[column] !== undefined);
}
