// GraphiQL served from the installed package, so it works offline and under a strict Content-Security-Policy: the
// page holds no inline script (its options travel as JSON data), and GraphiQL's code, style and editor workers
// are files under GRAPHIQL_ASSETS_PATH from this server, never from a CDN.
import { createHash } from 'node:crypto';
import { css, editorWorkerService, favicon, graphqlWorker, js, jsonWorker } from '@graphql-yoga/render-graphiql/graphiql';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

export const GRAPHIQL_ASSETS_PATH = '/graphql/graphiql/';

// Monaco asks for a worker by label; each is served as a file of its own.
const workers: Record<string, string> = { editorWorkerService, json: jsonWorker, graphql: graphqlWorker };

// Sets where Monaco finds its workers before GraphiQL's code runs, then renders with the page's options.
const boot = `self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (_moduleId, label) { return ${JSON.stringify(GRAPHIQL_ASSETS_PATH)} + 'worker-' + label + '.js'; },
};`;
const start = `YogaGraphiQL.renderYogaGraphiQL(
  document.querySelector('#root'),
  JSON.parse(document.getElementById('graphiql-options').textContent),
);`;

interface Asset {
  body: string;
  contentType: string;
  etag: string;
}

function asset(body: string, contentType: string): Asset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

const assets = new Map<string, Asset>([
  ['graphiql.css', asset(css, 'text/css; charset=utf-8')],
  ['graphiql.js', asset(js, 'text/javascript; charset=utf-8')],
  ['boot.js', asset(boot, 'text/javascript; charset=utf-8')],
  ['start.js', asset(start, 'text/javascript; charset=utf-8')],
  ...Object.entries(workers).map(([label, body]): [string, Asset] => [`worker-${label}.js`, asset(body, 'text/javascript; charset=utf-8')]),
]);

/** One of GraphiQL's files by its name under GRAPHIQL_ASSETS_PATH, or undefined. */
export function graphiqlAsset(name: string): Asset | undefined {
  return assets.get(name);
}

/**
 * SECURITY: what the GraphiQL page may load: its own files and what it asks this server, nothing else. Monaco and
 * GraphiQL set styles at run time (style attributes), which 'unsafe-inline' for styles only allows; scripts stay
 * limited to this server's files.
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// JSON inside a <script type="application/json"> must not close the element early.
function jsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Yoga's `renderGraphiQL`: the page, referring to the files above and carrying its options as data. */
export function renderGraphiqlPage(options?: GraphiQLOptions): string {
  const base = GRAPHIQL_ASSETS_PATH;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options?.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${escapeHtml(favicon)}" />
    <link rel="stylesheet" href="${base}graphiql.css" />
    <script type="application/json" id="graphiql-options">${jsonForHtml(options ?? {})}</script>
    <script defer src="${base}boot.js"></script>
    <script defer src="${base}graphiql.js"></script>
    <script defer src="${base}start.js"></script>
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root"></div>
  </body>
</html>
`;
}

/** Sends the Content-Security-Policy with the GraphiQL page (the only HTML the GraphQL endpoint answers). */
export function useGraphiqlSecurityHeaders(): Plugin {
  return {
    onResponse({ response }) {
      if (response.headers.get('content-type')?.startsWith('text/html')) {
        response.headers.set('content-security-policy', GRAPHIQL_CSP);
        response.headers.set('x-content-type-options', 'nosniff');
      }
    },
  };
}
