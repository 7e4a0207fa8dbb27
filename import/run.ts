// The import itself: reads a file, converts and checks each row with the domain's schema, and writes the good
// rows in batches to the local database (through the domain functions) or to a remote Lifeline (through the
// ingestion mutations). A bad row is refused with its line, column and a good value; the rest go on.
import { stat } from 'node:fs/promises';
import type { Db } from '../db/client.ts';
import type { Actor } from '../domain/actors.ts';
import { DomainError } from '../domain/errors.ts';
import { recomputeHealth } from '../domain/health/recompute.ts';
import { DEFAULT_RENEWAL_WINDOW_DAYS } from '../domain/renewals/window.ts';
import { parseInput } from '../domain/validation.ts';
import { type ImportColumn, type ImportKind, type ImportKindName, type ImportRow, IMPORT_KINDS, type LocalWriteContext } from './kinds.ts';
import { type FileRecord, type ImportFormat, formatOf, readRecords } from './read.ts';

/** Rows per write unless told otherwise: one statement's worth, and a modest request over GraphQL. */
export const DEFAULT_BATCH_ROWS = 5000;

export type ImportTarget =
  | {
      kind: 'local';
      db: Db;
      actor?: Actor;
      renewalWindowDays?: number;
      /** Lanes that may write at once (localWriteLanes); one when omitted. */
      writeLanes?: number;
    }
  | {
      kind: 'remote';
      url: string;
      token: string;
      fetch?: typeof fetch;
      /** Requests in flight at once (REMOTE_WRITE_LANES when omitted). */
      writeLanes?: number;
    };

export interface ImportOptions {
  kind: ImportKindName;
  file: string;
  /** From the file's extension (.csv, .ndjson, .jsonl) when omitted. */
  format?: ImportFormat;
  target: ImportTarget;
  /** Check every row, write nothing. */
  dryRun?: boolean;
  /** One transaction: any refused row and nothing is written. Local database only. */
  allOrNothing?: boolean;
  batchRows?: number;
  /** Recompute the health of the accounts new signals arrived for (local only; a remote Lifeline does it itself). */
  recomputeHealth?: boolean;
  onRefusal?: (refusal: Refusal) => void;
  onProgress?: (progress: ImportProgress) => void;
}

export interface Refusal {
  line: number;
  column: string | undefined;
  /** The value the file had there, when there was one. */
  value: string | undefined;
  problem: string;
  /** A good value of the column, when the column is known. */
  expected: string | undefined;
}

export interface ImportProgress {
  rowsRead: number;
  bytesRead: number;
  totalBytes: number;
}

export interface ImportSummary {
  rowsRead: number;
  /** Rows written (an upsert of an unchanged row counts: it was written again, changing nothing). */
  written: number;
  /** Good rows not written: a dry run, or an all-or-nothing import with a refused row. */
  skipped: number;
  refused: number;
  /** The first refusals, in file order (every one went to onRefusal). */
  refusals: Refusal[];
}

/** A refusal as the CLI prints it: where, what was wrong, what a good value looks like. */
export function describeRefusal(refusal: Refusal): string {
  const where = refusal.column ? `line ${refusal.line}, column ${refusal.column}` : `line ${refusal.line}`;
  const value = refusal.value !== undefined ? ` (got ${JSON.stringify(refusal.value)})` : '';
  const expected = refusal.expected ? `; a good value looks like ${refusal.expected}` : '';
  return `${where}: ${refusal.problem}${value}${expected}`;
}

/** A file that cannot be imported at all (unknown format, missing columns, unreadable CSV, a remote refusing the token). */
export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportError';
  }
}

const KEPT_REFUSALS = 1000;
/**
 * Lanes writing at once to a local database, for kinds whose accounts' rows never meet (kind.accountOf). One
 * statement keeps one PostgreSQL backend busy and leaves the machine's other cores idle; two keep a second one
 * writing meanwhile, which COPY of one file cannot. More mostly wait on each other on a small machine. PGlite is one
 * connection in this process: one lane.
 */
export function localWriteLanes(database: 'postgres' | 'pglite'): number {
  return database === 'postgres' ? 2 : 1;
}

/**
 * Lanes sending at once to a remote Lifeline, as for a local PostgreSQL: one request is parsed and written while
 * the other travels. Well under the requests its API lane works on at once, so an import leaves room for dashboards.
 */
export const REMOTE_WRITE_LANES = 2;
const IMPORT_ACTOR: Actor = Object.freeze({ userId: null, role: 'admin', label: 'Import' });

interface PendingRow {
  line: number;
  row: ImportRow;
  /** The row as the kind's parse returned it (the row itself when the kind has none). */
  checked: unknown;
  cells: Record<string, unknown>;
}

/** A row the writer refused: which column when it said. */
class RowRefused extends Error {
  constructor(
    message: string,
    readonly field: string | undefined,
  ) {
    super(message);
  }
}

/** Undoes the transaction of a dry run or a refused all-or-nothing import. */
class RollBack extends Error {}

function describeCell(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A cell as the domain takes it; a problem saying what a good value looks like when it cannot be. */
function convertCell(column: ImportColumn, raw: unknown): { value: string | number | Date | undefined } | { problem: string } {
  // An empty cell is an omitted field, so the domain's defaults apply (keyEvents 0, kind nps, …).
  if (raw === null || raw === undefined || (typeof raw === 'string' && raw.trim() === '')) return { value: undefined };
  switch (column.type) {
    case 'text':
    case 'date':
      return typeof raw === 'string' || typeof raw === 'number' ? { value: String(raw).trim() } : { problem: 'must be text' };
    case 'int': {
      if (typeof raw === 'number' && Number.isSafeInteger(raw)) return { value: raw };
      if (typeof raw === 'string' && /^-?\d{1,15}$/.test(raw.trim())) return { value: Number(raw.trim()) };
      return { problem: 'must be a whole number, digits only' };
    }
    case 'datetime': {
      const time = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}/.test(raw.trim()) ? new Date(raw.trim()) : new Date(Number.NaN);
      return Number.isNaN(time.getTime()) ? { problem: 'must be a time written ISO 8601, with its zone' } : { value: time };
    }
  }
}

/** The column a domain field path names: `rows[3].day` → `day`, `people[0].email` → `email`. */
function columnOf(field: string | undefined): string | undefined {
  if (!field) return undefined;
  const match = /^(?:\w+\[\d+\]\.)?([A-Za-z]+)/.exec(field);
  return match?.[1];
}

/** A domain message without its field prefix (`rows[3].day: use …` → `use …`). */
function problemOf(message: string, field: string | undefined): string {
  return field && message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}

export async function importFile(options: ImportOptions): Promise<ImportSummary> {
  const kind: ImportKind = IMPORT_KINDS[options.kind];
  const format = options.format ?? formatOf(options.file);
  if (!format) throw new ImportError(`Cannot tell the format of ${options.file}: name it .csv or .ndjson, or pass --format csv|ndjson.`);
  let totalBytes: number;
  try {
    totalBytes = (await stat(options.file)).size;
  } catch {
    throw new ImportError(`Cannot read ${options.file}: check the path.`);
  }
  if (options.allOrNothing && options.target.kind === 'remote') {
    throw new ImportError('--all-or-nothing needs the local database (the whole file in one transaction). Against a remote Lifeline, check the file with --dry-run first.');
  }
  const batchRows = Math.max(1, Math.min(options.batchRows ?? DEFAULT_BATCH_ROWS, kind.write.mode === 'batch' ? kind.write.maxBatch : Number.MAX_SAFE_INTEGER));
  const columns = new Map(kind.columns.map((column) => [column.name, column]));
  const summary: ImportSummary = { rowsRead: 0, written: 0, skipped: 0, refused: 0, refusals: [] };
  const progress: ImportProgress = { rowsRead: 0, bytesRead: 0, totalBytes };

  const refuse = (line: number, field: string | undefined, problem: string, cells: Record<string, unknown> | undefined) => {
    const column = columnOf(field);
    const known = column ? columns.get(column) : undefined;
    const refusal: Refusal = { line, column, value: column && cells ? describeCell(cells[column]) : undefined, problem, expected: known?.example };
    summary.refused += 1;
    keepFirst(summary.refusals, refusal);
    options.onRefusal?.(refusal);
  };

  const checkHeader = (header: string[]) => {
    const missing = kind.columns.filter((column) => column.required && !header.includes(column.name)).map((column) => column.name);
    if (missing.length > 0) {
      throw new ImportError(
        `${options.file} has no column ${missing.join(', ')}. A ${kind.name} file has the columns ${kind.columns.map((column) => column.name).join(', ')} (required: ${kind.columns.filter((column) => column.required).map((column) => column.name).join(', ')}).`,
      );
    }
  };

  /** Converts and checks a record; the row to write, or undefined once refused. */
  const toRow = (record: FileRecord): PendingRow | undefined => {
    if ('unreadable' in record) {
      refuse(record.line, undefined, record.unreadable, undefined);
      return undefined;
    }
    const row: ImportRow = {};
    for (const column of kind.columns) {
      const converted = convertCell(column, record.cells[column.name]);
      if ('problem' in converted) {
        refuse(record.line, column.name, converted.problem, record.cells);
        return undefined;
      }
      if (converted.value !== undefined) row[column.name] = converted.value;
    }
    let checked: unknown = row;
    try {
      if (kind.parse) checked = kind.parse(row);
      else parseInput(kind.schema, row);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      refuse(record.line, error.field, problemOf(error.message, error.field), record.cells);
      return undefined;
    }
    const problem = kind.check?.(row);
    if (problem) {
      refuse(record.line, problem.column, problem.problem, record.cells);
      return undefined;
    }
    return { line: record.line, row, checked, cells: record.cells };
  };

  const signalled = new Set<string>();
  const writer = options.target.kind === 'local' ? localWriter(kind, options.target) : remoteWriter(kind, options.target);

  /** Writes a batch; a refused row is taken out and the rest written again. */
  const writeBatch = async (batch: PendingRow[], write: Writer) => {
    if (kind.write.mode === 'row') {
      for (const pending of batch) {
        try {
          for (const id of await write([pending])) signalled.add(id);
          summary.written += 1;
        } catch (error) {
          if (!(error instanceof RowRefused)) throw error;
          refuse(pending.line, error.field, problemOf(error.message, error.field), pending.cells);
        }
      }
      return;
    }
    let remaining = batch;
    while (remaining.length > 0) {
      try {
        for (const id of await write(remaining)) signalled.add(id);
        summary.written += remaining.length;
        return;
      } catch (error) {
        if (!(error instanceof RowRefused)) throw error;
        const index = /^\w+\[(\d+)\]/.exec(error.field ?? '')?.[1];
        const at = index === undefined ? -1 : Number(index);
        const refused = remaining[at];
        if (!refused) {
          // The writer refused the batch without naming a row: every row of it carries the reason.
          for (const pending of remaining) refuse(pending.line, error.field, error.message, pending.cells);
          return;
        }
        refuse(refused.line, error.field, problemOf(error.message, error.field), refused.cells);
        remaining = remaining.filter((_, position) => position !== at);
      }
    }
  };

  const run = async (write: Writer, laneCount: number) => {
    // Each lane writes one batch while the next is read and checked; a lane's batches are written in file order.
    const lanes = Array.from({ length: laneCount }, () => ({ batch: [] as PendingRow[], inFlight: Promise.resolve() }));
    // Rows go to the lane of their account, so an account's rows keep their file order. That holds while rows name
    // accounts one way: an account named by its id in one row and by its CRM id in another could land in two lanes,
    // so on the first row naming its account the other way every lane finishes and the rest go through one.
    let namedBy: 'id' | 'externalId' | undefined;
    let laned = laneCount > 1 && kind.accountOf !== undefined;
    const dispatch = async (lane: (typeof lanes)[number]) => {
      const full = lane.batch;
      lane.batch = [];
      await lane.inFlight;
      lane.inFlight = writeBatch(full, write);
      lane.inFlight.catch(() => {});
    };
    const laneOf = (pending: PendingRow): (typeof lanes)[number] => {
      const first = lanes[0] as (typeof lanes)[number];
      const account = laned ? kind.accountOf?.(pending.row) : undefined;
      if (!account) return first;
      namedBy ??= account.by;
      if (account.by !== namedBy) {
        laned = false;
        return first;
      }
      return lanes[hashOf(account.key) % lanes.length] ?? first;
    };
    const finish = async () => {
      const settled = await Promise.allSettled(lanes.map((lane) => lane.inFlight));
      const failed = settled.find((outcome) => outcome.status === 'rejected');
      if (failed) throw failed.reason;
    };
    let headerChecked = format === 'ndjson';
    const records = readRecords({
      file: options.file,
      format,
      onHeader: (header) => {
        checkHeader(header);
        headerChecked = true;
      },
      onBytes: (bytesRead) => {
        progress.bytesRead = bytesRead;
      },
    });
    try {
      for await (const record of records) {
        if (!headerChecked) throw new ImportError(`${options.file} has no header line.`);
        summary.rowsRead += 1;
        progress.rowsRead = summary.rowsRead;
        const pending = toRow(record);
        if (!pending) continue;
        const wasLaned = laned;
        const lane = laneOf(pending);
        if (wasLaned && !laned) {
          // Everything read so far is written before this row and the rows after it.
          for (const other of lanes) if (other.batch.length > 0) await dispatch(other);
          await finish();
        }
        lane.batch.push(pending);
        if (lane.batch.length >= batchRows) {
          await dispatch(lane);
          options.onProgress?.(progress);
        }
      }
      for (const lane of lanes) if (lane.batch.length > 0) await dispatch(lane);
      await finish();
    } catch (error) {
      // No write is left running when the import ends, whatever ended it.
      await Promise.allSettled(lanes.map((lane) => lane.inFlight));
      if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('CSV_')) {
        throw new ImportError(`${options.file} is not a readable CSV file: ${error.message}`);
      }
      throw error;
    }
    options.onProgress?.(progress);
  };

  const dryRemote = options.dryRun && options.target.kind === 'remote';
  if (dryRemote) {
    // Nothing to write to: every row is checked here against the same schemas the remote Lifeline uses.
    await run(async () => [], 1);
  } else if (options.target.kind === 'local' && (options.dryRun || options.allOrNothing)) {
    // One transaction; each write runs in its own savepoint so a refused row leaves the others in place.
    const target = options.target;
    try {
      await target.db.transaction(async (tx) => {
        await run(localWriter(kind, { ...target, db: tx }), 1);
        if (options.dryRun || summary.refused > 0) throw new RollBack();
      });
    } catch (error) {
      if (!(error instanceof RollBack)) throw error;
    }
  } else {
    await run(writer, Math.max(1, options.target.writeLanes ?? (options.target.kind === 'local' ? 1 : REMOTE_WRITE_LANES)));
  }

  const wroteNothing = options.dryRun || (options.allOrNothing && summary.refused > 0);
  if (wroteNothing) {
    summary.skipped = summary.written;
    summary.written = 0;
  } else if (options.target.kind === 'local' && options.recomputeHealth !== false && signalled.size > 0) {
    await recomputeHealth(options.target.db, { accountIds: [...signalled] });
  }
  return summary;
}

/**
 * Keeps the KEPT_REFUSALS refusals of the lowest lines, in line order. Lanes refuse rows a little out of file order,
 * so a refusal is put in its place from the end (a step or two), and one past the limit still displaces the kept
 * refusal of the highest line when it comes earlier in the file.
 */
function keepFirst(kept: Refusal[], refusal: Refusal): void {
  const last = kept.at(-1);
  if (kept.length >= KEPT_REFUSALS && last && last.line <= refusal.line) return;
  let at = kept.length;
  while (at > 0 && (kept[at - 1] as Refusal).line > refusal.line) at -= 1;
  kept.splice(at, 0, refusal);
  if (kept.length > KEPT_REFUSALS) kept.pop();
}

/** A lane number for an account key: FNV-1a, so an account's rows always take the same lane. */
function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index += 1) hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  return hash >>> 0;
}

/** Writes rows; the accounts whose health signals changed come back. Throws RowRefused for a refused row. */
type Writer = (rows: readonly PendingRow[]) => Promise<string[]>;

function localWriter(kind: ImportKind, target: Extract<ImportTarget, { kind: 'local' }>): Writer {
  const context: LocalWriteContext = {
    db: target.db,
    actor: target.actor ?? IMPORT_ACTOR,
    renewalWindowDays: target.renewalWindowDays ?? DEFAULT_RENEWAL_WINDOW_DAYS,
  };
  const write = kind.write;
  return async (pending) => {
    try {
      // Each write is one transaction (a savepoint inside a dry run): a row refused halfway leaves nothing behind.
      return await target.db.transaction((tx) => {
        const inTx = { ...context, db: tx };
        return write.mode === 'batch'
          ? write.local(
              inTx,
              pending.map((row) => row.row),
              pending.map((row) => row.checked),
            )
          : write.local(inTx, pending[0]?.row ?? {});
      });
    } catch (error) {
      if (error instanceof DomainError && (error.code === 'BAD_USER_INPUT' || error.code === 'NOT_FOUND')) throw new RowRefused(error.message, error.field);
      if (error instanceof DomainError) throw new ImportError(error.message);
      throw error;
    }
  };
}

interface GraphqlAnswer {
  data?: unknown;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

function remoteWriter(kind: ImportKind, target: Extract<ImportTarget, { kind: 'remote' }>): Writer {
  const send = target.fetch ?? fetch;
  const call = async (mutation: string, variables: Record<string, unknown>) => {
    let response: Response;
    try {
      response = await send(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${target.token}` },
        body: JSON.stringify({ query: mutation, variables }),
      });
    } catch (error) {
      throw new ImportError(`Cannot reach ${target.url}: ${error instanceof Error ? error.message : String(error)}. Check --url.`);
    }
    const answer = (await response.json().catch(() => ({}))) as GraphqlAnswer;
    const first = answer.errors?.[0];
    if (!first) {
      if (!response.ok) throw new ImportError(`${target.url} answered HTTP ${response.status}. Check --url points at a Lifeline /graphql endpoint.`);
      return;
    }
    const code = first.extensions?.code;
    if (code === 'BAD_USER_INPUT' || code === 'NOT_FOUND') throw new RowRefused(first.message, first.extensions?.field);
    if (code === 'UNAUTHENTICATED') throw new ImportError(`${target.url} refused the token: ${first.message}`);
    if (code === 'FORBIDDEN') throw new ImportError(`The token may not import ${kind.name}: ${first.message}`);
    throw new ImportError(`${target.url} answered: ${first.message}`);
  };
  const write = kind.write;
  return async (pending) => {
    if (write.mode === 'batch') {
      await call(write.mutation, { rows: pending.map((row) => row.row) });
    } else {
      for (const step of write.remote(pending[0]?.row ?? {})) await call(step.mutation, step.variables);
    }
    // The remote Lifeline recomputes the health of the accounts itself.
    return [];
  };
}
