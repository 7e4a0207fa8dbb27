import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RetryOptions, WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { GRAPHQL_BODY_LIMIT } from './api/limits.ts';
import { GRAPHIQL_ASSETS_PATH, graphiqlAsset } from './api/graphiql.ts';
import { createGraphqlServer } from './api/yoga.ts';
import { CRM_WEBHOOK_BODY_LIMIT, CRM_WEBHOOK_PATH, handleCrmWebhook } from './api/webhooks/crm.ts';
import { SLACK_EVENTS_PATH, createSlackApp } from './bot/app.ts';
import { createSlackJobs } from './bot/jobs.ts';
import { type DeliveryWorker, type DeliveryWorkerOptions, createDeliveryWorker } from './bot/delivery.ts';
import { LOCAL_SLACK_BODY_LIMIT, LOCAL_SLACK_PATH, type LocalSlack, createLocalSlack } from './bot/local-slack.ts';
import { createNotificationRenderer } from './bot/notifications.ts';
import { SLACK_REQUEST_BODY_LIMIT } from './bot/receiver.ts';
import type { Config } from './config.ts';
import type { Database } from './db/client.ts';
import { type HealthRefresher, createHealthRefresher } from './domain/health/refresh.ts';
import { type ProcessJobs, createCoreJobs } from './jobs/registry.ts';
import { BodyTooLargeError, declaresBodyOver, readBoundedBody, refuseBodyTooLarge } from './request-body.ts';

export interface LifelineOptions {
  config: Config;
  database: Database;
  logger: Logger;
  /** Interface to listen on; all interfaces by default. */
  host?: string;
  slackRetryConfig?: RetryOptions;
  /** Where local mode prints what it would have posted; the console by default. */
  printLocal?: (line: string) => void;
  /** Tests and benchmarks tune the outbox worker (clock, backoff); production uses the defaults. */
  delivery?: Partial<Pick<DeliveryWorkerOptions, 'clock' | 'backoff' | 'maxAttempts' | 'concurrency' | 'pollMs' | 'perTargetIntervalMs'>>;
  /** The demo admin token, filled into GraphiQL's Authorization header (only when Lifeline runs on its own). */
  demoToken?: string;
  /** How long new signals are gathered before their accounts' health is recomputed (domain/health/refresh.ts). */
  healthRefreshDelayMs?: number;
}

export interface Lifeline {
  url: string;
  server: Server;
  /** Set in local mode: what the bot would have posted to Slack. */
  localSlack: LocalSlack | undefined;
  /** Drains the outbox into Slack (or the local preview); main.ts starts its loop. */
  delivery: DeliveryWorker;
  /** Recomputes health soon after ingestion brings new signals. */
  healthRefresher: HealthRefresher;
  /** This process's jobs: main.ts schedules them, and the `runJob` mutation runs them by hand. */
  jobs: ProcessJobs;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Paths that read no body (health, metrics, redirects, 404s) still refuse a large one instead of draining it. */
const NO_BODY_LIMIT = 64 * 1024;

/**
 * The most of a request body each endpoint reads, in bytes; the reasons are beside each constant. Every endpoint
 * also stops reading at its bound, so a chunked body (no Content-Length) is refused as soon as it passes it.
 */
function bodyLimitFor(path: string): number {
  if (path === '/graphql') return GRAPHQL_BODY_LIMIT;
  if (path === SLACK_EVENTS_PATH) return SLACK_REQUEST_BODY_LIMIT;
  if (path === CRM_WEBHOOK_PATH) return CRM_WEBHOOK_BODY_LIMIT;
  if (path.startsWith(LOCAL_SLACK_PATH)) return LOCAL_SLACK_BODY_LIMIT;
  return NO_BODY_LIMIT;
}

/** Starts one HTTP server for GraphQL, Slack, health and metrics. */
export async function startLifeline(options: LifelineOptions): Promise<Lifeline> {
  const { config, database, logger } = options;
  let handler: Handler = (_req, res) => sendJson(res, 503, { status: 'starting' });
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((error: unknown) => {
      if (error instanceof BodyTooLargeError) {
        logger.warn({ path: req.url, limit: error.limit }, 'refused a request body over its limit');
        refuseBodyTooLarge(req, res, error.limit, 'Send a smaller request.');
        return;
      }
      logger.error({ err: error, path: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  // Node closes an idle keep-alive connection after 5 s, about when a client or a load balancer may reuse it for
  // the next request, which then fails with a reset. Idle connections stay open longer than any common client or
  // load balancer keeps them (60 s), so the client is always the one that closes them.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host && options.host !== '0.0.0.0' ? options.host : 'localhost'}:${port}`;

  // The outbox owns retries: the delivery client fails fast and surfaces 429s with their Retry-After.
  const deliveryClient = new WebClient(config.slack.mode === 'local' ? 'xoxb-local-preview' : config.slack.botToken, {
    slackApiUrl: config.slack.mode === 'local' ? `http://127.0.0.1:${port}${LOCAL_SLACK_PATH}/api/` : config.slack.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
  });
  const delivery = createDeliveryWorker({
    db: database.db,
    client: deliveryClient,
    logger: logger.child({ component: 'delivery' }),
    // Local mode has no real channels: named stand-ins let every notification reach the preview.
    channels:
      config.slack.mode === 'local'
        ? { handoffs: config.slackChannels.handoffs ?? 'CLOCALHANDOFFS', atRisk: config.slackChannels.atRisk ?? 'CLOCALATRISK' }
        : config.slackChannels,
    render: createNotificationRenderer(database.db, options.delivery?.clock),
    ...options.delivery,
  });
  const healthRefresher = createHealthRefresher({
    db: database.db,
    logger: logger.child({ component: 'health-refresh' }),
    ...(options.healthRefreshDelayMs !== undefined ? { delayMs: options.healthRefreshDelayMs } : {}),
    ...(options.delivery?.clock ? { clock: options.delivery.clock } : {}),
  });

  // Local mode runs the real Bolt app and WebClient against an in-process stand-in for the Web API.
  const localSlack =
    config.slack.mode === 'local' ? createLocalSlack(options.printLocal ?? ((line) => process.stdout.write(`${line}\n`))) : undefined;
  const slack = createSlackApp({
    db: database.db,
    logger: logger.child({ component: 'slack' }),
    ...(config.slack.mode === 'slack'
      ? { botToken: config.slack.botToken, signingSecret: config.slack.signingSecret, apiUrl: config.slack.apiUrl }
      : config.slack.mode === 'socket'
        ? {
            botToken: config.slack.botToken,
            appToken: config.slack.appToken,
            // Never checked: nothing arrives over HTTP in Socket Mode.
            signingSecret: randomBytes(32).toString('hex'),
            apiUrl: config.slack.apiUrl,
          }
        : {
          botToken: 'xoxb-local-preview',
          // SECURITY: nobody outside this process knows it, so no request from outside can pass as Slack.
          signingSecret: randomBytes(32).toString('hex'),
          apiUrl: `http://127.0.0.1:${port}${LOCAL_SLACK_PATH}/api/`,
        }),
    ...(options.slackRetryConfig ? { retryConfig: options.slackRetryConfig } : {}),
    onNotificationsQueued: () => delivery.wake(),
    renewalWindowDays: config.jobs.renewalWindowDays,
    ...(options.delivery?.clock ? { clock: options.delivery.clock } : {}),
  });

  const jobs: ProcessJobs = {
    jobs: { ...createCoreJobs({ renewalWindowDays: config.jobs.renewalWindowDays }), ...createSlackJobs(delivery, config.slack.mode === 'local' ? undefined : deliveryClient) },
    logger: logger.child({ component: 'jobs' }),
  };
  const yoga = createGraphqlServer({
    db: database.db,
    logger: logger.child({ component: 'graphql' }),
    bootstrapAdminToken: config.adminToken,
    corsOrigins: config.corsOrigins,
    onSignals: (accountIds) => healthRefresher.touch(accountIds),
    renewalWindowDays: config.jobs.renewalWindowDays,
    jobs,
    graphiqlToken: options.demoToken,
  });

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });

  handler = async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://lifeline.invalid').pathname;
    // Before any work: a body that says it is larger than its endpoint reads is refused unread.
    const bodyLimit = bodyLimitFor(path);
    if (declaresBodyOver(req, bodyLimit)) throw new BodyTooLargeError(bodyLimit);
    if (path === '/graphql') {
      if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return yoga(req, res);
      // Yoga would read the body without a bound; it is read here, up to the bound, and handed over the way Yoga's
      // Node adapter takes a body a framework has already read (as `req.body`, like Express's body parsers).
      const body = await readBoundedBody(req, bodyLimit);
      return yoga(Object.assign(req, { body }), res);
    }
    if (path.startsWith(GRAPHIQL_ASSETS_PATH) && (req.method === 'GET' || req.method === 'HEAD')) {
      const file = graphiqlAsset(path.slice(GRAPHIQL_ASSETS_PATH.length));
      if (!file) return sendJson(res, 404, { error: `Nothing at ${path}.` });
      const headers = { 'content-type': file.contentType, etag: file.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : file.body);
      return;
    }
    if (path === SLACK_EVENTS_PATH) {
      if (slack.receiver) return slack.receiver.requestListener(req, res);
      return sendJson(res, 404, { error: `Lifeline is connected to Slack over Socket Mode (SLACK_APP_TOKEN): it takes no requests at ${SLACK_EVENTS_PATH}.` });
    }
    if (path === CRM_WEBHOOK_PATH) return handleCrmWebhook(req, res, { db: database.db, secret: config.crmWebhookSecret, logger, renewalWindowDays: config.jobs.renewalWindowDays });
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const ready = await database.ping();
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'database unavailable' });
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(await metrics.metrics());
      return;
    }
    if (localSlack && path.startsWith(LOCAL_SLACK_PATH)) return localSlack.handle(req, res, path);
    if (path === '/') {
      res.writeHead(302, { location: '/graphql' });
      res.end();
      return;
    }
    sendJson(res, 404, { error: `Nothing at ${path}. Try /graphql, ${SLACK_EVENTS_PATH}, /healthz or /readyz.` });
  };

  // Socket Mode: Lifeline dials Slack. Not awaited: Slack being unreachable must not stop GraphQL and the jobs, and
  // the client keeps trying with backoff (it logs each failure).
  if (slack.socket) {
    const slackLogger = logger.child({ component: 'slack' });
    slack.app.start().then(
      () => slackLogger.info('connected to Slack over Socket Mode'),
      (error: unknown) => slackLogger.error({ err: error }, 'could not connect to Slack over Socket Mode; check SLACK_APP_TOKEN (xapp-…, scope connections:write)'),
    );
  }

  return {
    url,
    server,
    localSlack,
    delivery,
    healthRefresher,
    jobs,
    async close() {
      await slack.socket?.stop();
      await delivery.stop();
      await healthRefresher.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
