// Reading an import file as a stream of records, each with the line it starts on: CSV through csv-parse, or
// NDJSON (one JSON object a line). Nothing here knows the kinds; cells come back as the file wrote them.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';

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
  // Each record comes with the line it ended on (on_record's context): csv-parse's `info` option costs as much
  // again as the parsing. A record spanning several lines (a quoted newline) is named by its last line.
  const parser = stream.pipe(
    parse<LineRecord, Record<string, string>>({
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      columns: (header: string[]) => {
        options.onHeader?.(header);
        return header;
      },
      on_record: (record, context) => ({ line: context.lines, cells: record }),
    }),
  );
  yield* parser as AsyncIterable<LineRecord>;
}
