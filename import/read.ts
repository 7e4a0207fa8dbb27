// Reading an import file as a stream of records, each with the line it starts on: CSV through csv-parse, or
// NDJSON (one JSON object a line). Nothing here knows the kinds; cells come back as the file wrote them.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Parser } from 'csv-parse';

interface LineRecord {
  line: number;
  cells: Record<string, string>;
}

export type ImportFormat = 'csv' | 'ndjson';

/** One record of the file, or a line that is not one (bad JSON, a CSV quote left open). */
export type FileRecord =
  | { line: number; cells: Record<string, unknown> }
  | { line: number; unreadable: string };

export function formatOf(file: string): ImportFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  return undefined;
}

export interface ReadOptions {
  file: string;
  format: ImportFormat;
  /** Called with the bytes read so far, as the file is read. */
  onBytes?: (bytesRead: number) => void;
  /** Called once with the CSV header (NDJSON has none). */
  onHeader?: (columns: string[]) => void;
}

export async function* readRecords(options: ReadOptions): AsyncGenerator<FileRecord> {
  const stream = createReadStream(options.file);
  if (options.onBytes) {
    const onBytes = options.onBytes;
    stream.on('data', () => onBytes(stream.bytesRead));
  }
  if (options.format === 'ndjson') {
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
      line += 1;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        yield { line, unreadable: 'this line is not a JSON object; each line of an NDJSON file is one object such as {"day":"2026-03-01",…}' };
        continue;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        yield { line, unreadable: 'this line is not a JSON object; each line of an NDJSON file is one object such as {"day":"2026-03-01",…}' };
        continue;
      }
      yield { line, cells: value as Record<string, unknown> };
    }
    return;
  }
  const parser = stream.pipe(
    new LineParser({
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      columns: (header: string[]) => {
        options.onHeader?.(header);
        return header;
      },
    }),
  );
  yield* parser as AsyncIterable<LineRecord>;
}

/**
 * csv-parse's parser giving each record with the line it ended on, read from the parser's running count as the
 * record is pushed: csv-parse's `info` option, or `on_record`'s context, copies its whole state for every record
 * and cost about as much again as the parsing. A record spanning several lines (a quoted newline) is named by its
 * last line. csv-parse counts a CRLF inside a quoted cell as two lines (a spreadsheet's multi-line cell, saved on
 * Windows), which would shift every later line by one; each one seen in a cell is taken off the count.
 */
class LineParser extends Parser {
  #overcounted = 0;

  override push(record: unknown, encoding?: BufferEncoding): boolean {
    if (record === null) return super.push(null, encoding);
    const cells = record as Record<string, string>;
    for (const key in cells) {
      const cell = cells[key];
      if (typeof cell !== 'string') continue;
      for (let at = cell.indexOf('\r\n'); at !== -1; at = cell.indexOf('\r\n', at + 2)) this.#overcounted += 1;
    }
    const line: LineRecord = { line: this.info.lines - this.#overcounted, cells };
    return super.push(line, encoding);
  }
}
