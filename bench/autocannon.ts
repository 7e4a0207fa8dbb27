// The load generator of the HTTP benchmarks: autocannon (a bench-only dependency, bench/package.json) in its own
// process, closed loop at fixed concurrency, so the time it spends sending requests and reading responses is taken
// from neither the servers' event loops nor the bench's own.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const AUTOCANNON = fileURLToPath(new URL('./node_modules/autocannon/autocannon.js', import.meta.url));

export interface Load {
  url: string;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
  body: string;
}

/** POSTs `body` to `url` for `seconds` over `connections` connections; resolves with autocannon's JSON result. */
export function runAutocannon(load: Load): Promise<unknown> {
  const headers = Object.entries(load.headers).flatMap(([name, value]) => ['-H', `${name}=${value}`]);
  const args = [AUTOCANNON, '--json', '-c', String(load.connections), '-d', String(load.seconds), '-m', 'POST', ...headers, '-b', load.body, load.url];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}: ${errors.slice(-400)}`));
      resolve(JSON.parse(output));
    });
  });
}
