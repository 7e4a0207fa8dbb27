// `npm run import -- <kind> <file> [--format csv|ndjson] [--dry-run] [--all-or-nothing] [--batch N]
//                                   [--url https://…/graphql --token …]`
// Imports a CSV or NDJSON file into the local database (DATABASE_URL, or the embedded database the server uses) or
// into a remote Lifeline over GraphQL. Exits 1 when rows were refused, 2 when the file could not be imported.
import { ensureInstallDefaults } from '../domain/install-defaults.ts';
import { parseArgs } from 'node:util';
import { loadConfigOrReport } from '../config.ts';
import { type Database, openDatabase } from '../db/client.ts';
import { IMPORT_KINDS, importKinds, isImportKind } from './kinds.ts';
import { type ImportProgress, type ImportSummary, type ImportTarget, ImportError, describeRefusal, importFile, localWriteLanes } from './run.ts';

const usage = `Usage: npm run import -- <kind> <file> [options]

Kinds: ${importKinds.map((kind) => `${kind} (${IMPORT_KINDS[kind].summary})`).join('\n       ')}

Options:
  --format csv|ndjson   the file's format (default: from its extension)
  --dry-run             check every row, write nothing
  --all-or-nothing      one transaction: if any row is refused, nothing is written
  --batch N             rows per write (default 5000)
  --url URL --token T   import into a remote Lifeline through its GraphQL API (an admin or integration token)

The columns of each kind are listed in the README ("Bulk import").`;

/** A one-line bar redrawn on stderr; only on a terminal, so logs and pipes get the summary alone. */
function progressBar(): { draw(progress: ImportProgress): void; clear(): void } {
  const started = Date.now();
  let lastDrawn = 0;
  return {
    draw(progress) {
      const now = Date.now();
      if (now - lastDrawn < 100 && progress.bytesRead < progress.totalBytes) return;
      lastDrawn = now;
      const share = progress.totalBytes === 0 ? 1 : Math.min(1, progress.bytesRead / progress.totalBytes);
      const width = 30;
      const filled = Math.round(share * width);
      const seconds = Math.max((now - started) / 1000, 0.001);
      process.stderr.write(
        `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}%  ${progress.rowsRead} rows  ${Math.round(progress.rowsRead / seconds)} rows/s`,
      );
    },
    clear() {
      process.stderr.write('\r\u001b[2K');
    },
  };
}

function summaryLine(summary: ImportSummary, dryRun: boolean): string {
  const lines = [
    `${dryRun ? 'Checked' : 'Imported'}: ${summary.rowsRead} rows read, ${summary.written} written, ${summary.skipped} skipped, ${summary.refused} refused.`,
  ];
  if (dryRun && summary.refused === 0) lines.push('Dry run: every row is good; nothing was written.');
  else if (dryRun) lines.push('Dry run: nothing was written.');
  else if (summary.skipped > 0) lines.push('All or nothing: a row was refused, so nothing was written. Fix the refused rows and import the file again.');
  return lines.join('\n');
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'all-or-nothing': { type: 'boolean', default: false },
        batch: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${usage}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const [kind, file] = positionals;
  if (!kind || !file || positionals.length > 2) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  if (!isImportKind(kind)) {
    process.stderr.write(`There is no import kind "${kind}". Use one of: ${importKinds.join(', ')}.\n`);
    return 2;
  }
  if (values.format !== undefined && values.format !== 'csv' && values.format !== 'ndjson') {
    process.stderr.write(`--format must be csv or ndjson, not "${values.format}".\n`);
    return 2;
  }
  const batchRows = values.batch === undefined ? undefined : Number(values.batch);
  if (batchRows !== undefined && (!Number.isInteger(batchRows) || batchRows < 1)) {
    process.stderr.write(`--batch must be a whole number of rows such as 5000, not "${values.batch}".\n`);
    return 2;
  }
  if ((values.url === undefined) !== (values.token === undefined)) {
    process.stderr.write('Give --url and --token together: the remote Lifeline\'s /graphql URL and an admin or integration token.\n');
    return 2;
  }

  let database: Database | undefined;
  let target: ImportTarget;
  let renewalWindowDays: number | undefined;
  if (values.url !== undefined && values.token !== undefined) {
    if (!/^https?:\/\//.test(values.url)) {
      process.stderr.write(`--url must be an http(s) URL such as https://lifeline.example.com/graphql, not "${values.url}".\n`);
      return 2;
    }
    target = { kind: 'remote', url: values.url, token: values.token };
  } else {
    const config = loadConfigOrReport();
    if (!config) return 2;
    renewalWindowDays = config.jobs.renewalWindowDays;
    database = await openDatabase(config.database);
    await database.migrate();
    await ensureInstallDefaults(database.db);
    target = { kind: 'local', db: database.db, renewalWindowDays, writeLanes: localWriteLanes(database.kind) };
  }

  const bar = process.stderr.isTTY ? progressBar() : undefined;
  try {
    const summary = await importFile({
      kind,
      file,
      ...(values.format ? { format: values.format } : {}),
      target,
      dryRun: values['dry-run'],
      allOrNothing: values['all-or-nothing'],
      ...(batchRows !== undefined ? { batchRows } : {}),
      onRefusal: (refusal) => {
        bar?.clear();
        process.stderr.write(`${describeRefusal(refusal)}\n`);
      },
      ...(bar ? { onProgress: (progress: ImportProgress) => bar.draw(progress) } : {}),
    });
    bar?.clear();
    process.stdout.write(`${summaryLine(summary, values['dry-run'])}\n`);
    return summary.refused > 0 ? 1 : 0;
  } catch (error) {
    bar?.clear();
    if (!(error instanceof ImportError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  } finally {
    await database?.close();
  }
}

process.exitCode = await main();
