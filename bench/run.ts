// `npm run bench`: runs every bench/*.bench.ts in turn, each in its own process, and prints what each measured.
// `npm run bench -- dashboard` runs only the files whose name contains "dashboard".
// Benchmarks need the local PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432) and create
// their own databases there. Bench-only dependencies (PostGraphile 4, autocannon) live in bench/package.json and are installed
// here on first use, so they never become dependencies of Lifeline.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);

// Installed again when bench/package.json gained a dependency since the last install (autocannon, say).
const benchPackage: unknown = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const declared = Object.keys(
  typeof benchPackage === 'object' && benchPackage !== null && 'devDependencies' in benchPackage && typeof benchPackage.devDependencies === 'object' && benchPackage.devDependencies !== null
    ? benchPackage.devDependencies
    : {},
);
if (declared.some((name) => !existsSync(new URL(`./node_modules/${name}/package.json`, import.meta.url)))) {
  process.stdout.write('Installing bench-only dependencies (npm --prefix bench install)…\n');
  const install = spawnSync('npm', ['--prefix', benchDir, 'install', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (install.status !== 0) {
    process.stderr.write('Could not install bench/ dependencies; run `npm --prefix bench install` and look at its output.\n');
    process.exit(1);
  }
}

const files = readdirSync(benchDir)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  process.stderr.write(`No bench/*.bench.ts file matches ${filters.join(', ')}.\n`);
  process.exit(1);
}

const failed: string[] = [];
for (const file of files) {
  process.stdout.write(`\n=== ${file} ===\n`);
  const started = performance.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', `${benchDir}${file}`], { stdio: 'inherit', env: process.env });
  process.stdout.write(`=== ${file}: ${run.status === 0 ? 'done' : `FAILED (exit ${run.status})`} in ${((performance.now() - started) / 1000).toFixed(1)} s ===\n`);
  if (run.status !== 0) failed.push(file);
}
if (failed.length > 0) {
  process.stderr.write(`\n${failed.length} benchmark(s) failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
