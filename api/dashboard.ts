// The manager's dashboard: static files from dashboard/ and uPlot from its installed package, served by Lifeline
// itself so the page works offline, under a Content-Security-Policy that allows only this server's scripts. The
// page reads everything it shows through the public GraphQL API, with a token the person pastes in.
import { STRICT_PAGE_CSP } from '../static-files.ts';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DASHBOARD_PATH = '/dashboard';

/** SECURITY: the page loads only its own files and asks only this server (see STRICT_PAGE_CSP). */
export const DASHBOARD_CSP = STRICT_PAGE_CSP;

export interface DashboardFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

function file(body: Buffer, path: string): DashboardFile {
  return {
    body,
    contentType: contentTypes[extname(path)] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dashboard');
const uplotDist = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return extname(entry.name) in contentTypes ? [path] : [];
  });
}

// Read once at start: a handful of small files, and a request can only ever name one of them.
const files = new Map<string, DashboardFile>([
  ...filesUnder(root).map((path): [string, DashboardFile] => [relative(root, path).split('\\').join('/'), file(readFileSync(path), path)]),
  ['vendor/uPlot.esm.js', file(readFileSync(join(uplotDist, 'uPlot.esm.js')), 'uPlot.esm.js')],
  ['vendor/uPlot.min.css', file(readFileSync(join(uplotDist, 'uPlot.min.css')), 'uPlot.min.css')],
]);

/** The file a path under DASHBOARD_PATH names (`/dashboard` and `/dashboard/` are the page), or undefined. */
export function dashboardFile(path: string): DashboardFile | undefined {
  if (path === DASHBOARD_PATH || path === `${DASHBOARD_PATH}/`) return files.get('index.html');
  if (!path.startsWith(`${DASHBOARD_PATH}/`)) return undefined;
  return files.get(path.slice(DASHBOARD_PATH.length + 1));
}
