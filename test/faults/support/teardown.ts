import { formatReportTable, readReports, resetReports } from './report.ts';

/** Prints the summary table once every scenario has run. */
export default async function setup(): Promise<() => Promise<void>> {
  await resetReports();
  return async () => {
    const reports = await readReports();
    process.stdout.write(`\nFault suite summary\n${formatReportTable(reports)}\n\n`);
  };
}
