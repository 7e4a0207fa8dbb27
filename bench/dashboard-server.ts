// One server of the dashboard benchmark, in its own process so the load generator does not share its event loop:
//   node --import tsx bench/dashboard-server.ts <lifeline|postgraphile|sql> <port> <database url>
// Prints "ready" when it listens. The SQL server reads which page to serve from the request body: {"variant": key}.
import { type RequestListener, createServer } from 'node:http';
import pino from 'pino';
import postgres from 'postgres';
import { parseConfig } from '../config.ts';
import { openDatabase } from '../db/client.ts';
import { startLifeline } from '../server.ts';
import { dashboardVariant } from './dashboard-queries.ts';

const [kindArg, portText, urlArg] = process.argv.slice(2);
if (!kindArg || !portText || !urlArg) throw new Error('usage: dashboard-server.ts <lifeline|postgraphile|sql> <port> <database url>');
const kind: string = kindArg;
const url: string = urlArg;
const port = Number(portText);

type PostgraphileFactory = (url: string, schema: string, options: Record<string, unknown>) => RequestListener;
const POOL = 10;

async function start(): Promise<void> {
  if (kind === 'lifeline') {
    // Lifeline's own HTTP server, as a deployment runs it: its body bounds and API lane in front of Yoga. Slack
    // stays in local mode and no loop is started (main.ts starts delivery and the jobs), so only requests cost CPU.
    const database = await openDatabase({ kind: 'postgres', url, max: POOL });
    const config = parseConfig({ PORT: String(port), DATABASE_URL: url, LOG_LEVEL: 'silent' });
    await startLifeline({ config, database, logger: pino({ level: 'silent' }), host: '127.0.0.1', printLocal: () => {} });
    process.stdout.write('ready\n');
    return;
  }
  if (kind === 'postgraphile') {
    // Imported by a computed name at run time: it is a dependency of bench/ only (bench/package.json), so the
    // typecheck of Lifeline must not need it installed.
    const moduleName = 'postgraphile';
    const { postgraphile } = (await import(moduleName)) as { postgraphile: PostgraphileFactory };
    const handler = postgraphile(url, 'public', { disableDefaultMutations: true, disableQueryLog: true, graphiql: false, retryOnInitFail: false });
    createServer(handler).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
    return;
  }
  if (kind === 'sql') {
    const client = postgres(url, { max: POOL, onnotice: () => {} });
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const fail = (error: unknown) => {
          res.writeHead(500);
          res.end(String(error));
        };
        try {
          const { variant } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variant: string };
          // A tagged template, so postgres.js prepares it as it does by default (a bare `unsafe` without arguments
          // uses the simple protocol and plans the statement on every request: a weaker baseline).
          client`${client.unsafe(dashboardVariant(variant).sql)}`
            .then((rows) => {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ data: { accounts: rows } }));
            })
            .catch(fail);
        } catch (error) {
          fail(error);
        }
      });
    }).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
    return;
  }
  throw new Error(`unknown server kind ${kind}`);
}

await start();
