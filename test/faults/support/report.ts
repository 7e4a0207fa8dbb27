import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A figure of the summary table: counted by the scenario, or 'n/a' where the scenario has nothing of that
 * kind to count (a forged-request scenario delivers no notifications). Never a 0 that was not counted.
 */
export type Figure = number | 'n/a';

/** One row of the fault suite's summary table. */
export interface ScenarioReport {
  scenario: string;
  repetitions: number;
  expected: Figure;
  delivered: Figure;
  duplicated: Figure;
  rejected: Figure;
  failures: number;
  note?: string;
}

const REPORT_FILE = join(fileURLToPath(new URL('../../../.data/faults', import.meta.url)), 'summary.jsonl');

export async function resetReports(): Promise<void> {
  await rm(REPORT_FILE, { force: true });
}

export async function recordScenario(report: ScenarioReport): Promise<void> {
  await mkdir(dirname(REPORT_FILE), { recursive: true });
  await appendFile(REPORT_FILE, `${JSON.stringify(report)}\n`);
}

export async function readReports(): Promise<ScenarioReport[]> {
  const text = await readFile(REPORT_FILE, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line): ScenarioReport => JSON.parse(line));
}

export function formatReportTable(reports: ScenarioReport[]): string {
  const header = ['scenario', 'reps', 'notifications expected', 'delivered', 'duplicated', 'requests rejected', 'failures', 'note'];
  const rows = reports.map((report) => [
    report.scenario,
    String(report.repetitions),
    String(report.expected),
    String(report.delivered),
    String(report.duplicated),
    String(report.rejected),
    String(report.failures),
    report.note ?? '',
  ]);
  const lines = [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  return lines.join('\n');
}
