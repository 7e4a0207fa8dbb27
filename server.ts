import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RetryOptions, WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { sql } from 'drizzle-orm';
import { Gauge, Registry } from 'prom-client';
import { GRAPHQL_BODY_LIMIT } from './api/limits.ts';
import { DASHBOARD_PATH, dashboardFile } from './api/dashboard.ts';
import { GRAPHIQL_ASSETS_PATH, graphiqlAsset } from './api/graphiql.ts';
import { createGraphqlServer } from './api/yoga.ts';
import { CRM_WEBHOOK_BODY_LIMIT, CRM_WEBHOOK_PATH, handleCrmWebhook } from './api/webhooks/crm.ts';
import { SLACK_EVENTS_PATH, createSlackApp } from './bot/app.ts';
import { createSlackJobs } from './bot/jobs.ts';
import { type DeliveryWorker, type DeliveryWorkerOptions, createDeliveryWorker } from './bot/delivery.ts';
import { LOCAL_SLACK_BODY_LIMIT, LOCAL_SLACK_PATH, type LocalSlack, createLocalSlack } from './bot/local-slack.ts';
import { createNotificationRenderer } from './bot/notifications.ts';
import { createWebhookSender } from './bot/webhooks.ts';
import { SLACK_REQUEST_BODY_LIMIT } from './bot/receiver.ts';
import type { Config } from './config.ts';
import { demoTokenMayBeShown } from './demo/token.ts';
import { type Database, queryRows } from './db/client.ts';
import { meteredSlackFetch, processRegistry } from './metrics.ts';
import { type HealthRefresher, createHealthRefresher } from './domain/health/refresh.ts';
import { type ProcessJobs, createCoreJobs } from './jobs/registry.ts';
import { STRICT_PAGE_CSP, sendStaticFile } from './static-files.ts';
import { BodyTooLargeError, ReadBody, declaresBodyOver, readBoundedBody, refuseBodyTooLarge } from './request-body.ts';
import { Lane, inLane, refuseBusy } from './admission.ts';

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
  /** How long a webhook endpoint has to answer; 10 s by default. */
  webhookTimeoutMs?: number;
  /** How long new signals are gathered before their accounts' health is recomputed (domain/health/refresh.ts). */
  healthRefreshDelayMs?: number;
}

export interface Lifeline {
  url: string;
  server: Server;
  /** Set in local mode: the Slack simulator, with what the bot posted and the page where people click. */
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
    fetch: meteredSlackFetch,
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
    webhooks: createWebhookSender({
      db: database.db,
      logger: logger.child({ component: 'webhooks' }),
      ...(options.webhookTimeoutMs !== undefined ? { timeoutMs: options.webhookTimeoutMs } : {}),
      ...(options.delivery?.clock ? { clock: options.delivery.clock } : {}),
    }),
    ...options.delivery,
  });
  const healthRefresher = createHealthRefresher({
    db: database.db,
    logger: logger.child({ component: 'health-refresh' }),
    ...(options.healthRefreshDelayMs !== undefined ? { delayMs: options.healthRefreshDelayMs } : {}),
    ...(options.delivery?.clock ? { clock: options.delivery.clock } : {}),
  });

  // Local mode runs the real Bolt app and WebClient against an in-process stand-in for the Web API.
  // SECURITY: nobody outside this process knows it, so no request from outside can pass as Slack; the simulator
  // signs its requests with it, inside this process, and never shows it.
  const localSigningSecret = randomBytes(32).toString('hex');
  const localSlack =
    config.slack.mode === 'local'
      ? createLocalSlack({
          db: database.db,
          print: options.printLocal ?? ((line) => process.stdout.write(`${line}\n`)),
          selfUrl: `http://127.0.0.1:${port}`,
          eventsPath: SLACK_EVENTS_PATH,
          signingSecret: localSigningSecret,
          interactive: demoTokenMayBeShown(options.host),
        })
      : undefined;
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
          signingSecret: localSigningSecret,
          apiUrl: `http://127.0.0.1:${port}${LOCAL_SLACK_PATH}/api/`,
        }),
    ...(options.slackRetryConfig ? { retryConfig: options.slackRetryConfig } : {}),
    onNotificationsQueued: () => delivery.wake(),
    dispatchConcurrency: config.lanes.slack.maxInFlight,
    dispatchQueueLimit: config.lanes.slack.maxQueued,
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

  const apiLane = new Lane('api', config.lanes.api);

  handler = async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://lifeline.invalid').pathname;
    // Before any work: a body that says it is larger than its endpoint reads is refused unread.
    const bodyLimit = bodyLimitFor(path);
    if (declaresBodyOver(req, bodyLimit)) throw new BodyTooLargeError(bodyLimit);
    if (path === '/graphql') {
      if (req.method === 'OPTIONS') return yoga(req, res);
      if (req.method === 'GET' || req.method === 'HEAD') return inLane(apiLane, req, res, true, () => yoga(req, res));
      // The body is read here, up to the bound, and handed over the way Yoga's Node adapter takes a body a framework
      // has already read (as `req.body`, like Express's body parsers; see ReadBody and useRequestBodyBound). It is
      // read before the request waits in its lane, so a slow sender never holds a slot; the line's memory is
      // bounded by the queue limit times GRAPHQL_BODY_LIMIT.
      // A request that would be refused anyway is refused before its body is read: under a flood, refusals are
      // most of the requests, so they must cost as little as possible.
      if (apiLane.full) return refuseBusy(req, res, apiLane.refusal(), true);
      const body = new ReadBody(await readBoundedBody(req, bodyLimit));
      return inLane(apiLane, req, res, true, () => yoga(Object.assign(req, { body }), res));
    }
    if (path.startsWith(GRAPHIQL_ASSETS_PATH) && (req.method === 'GET' || req.method === 'HEAD')) {
      const file = graphiqlAsset(path.slice(GRAPHIQL_ASSETS_PATH.length));
      if (!file) return sendJson(res, 404, { error: `Nothing at ${path}.` });
      return sendStaticFile(req, res, file);
    }
    if ((path === DASHBOARD_PATH || path.startsWith(`${DASHBOARD_PATH}/`)) && (req.method === 'GET' || req.method === 'HEAD')) {
      const file = dashboardFile(path);
      if (!file) return sendJson(res, 404, { error: `Nothing at ${path}. The dashboard is at ${DASHBOARD_PATH}.` });
      // SECURITY: the page's address never travels to another site.
      return sendStaticFile(req, res, file, { 'content-security-policy': STRICT_PAGE_CSP, 'referrer-policy': 'no-referrer' });
    }
    if (path === SLACK_EVENTS_PATH) {
      if (slack.receiver) return slack.receiver.requestListener(req, res);
      return sendJson(res, 404, { error: `Lifeline is connected to Slack over Socket Mode (SLACK_APP_TOKEN): it takes no requests at ${SLACK_EVENTS_PATH}.` });
    }
    if (path === CRM_WEBHOOK_PATH) {
      return inLane(apiLane, req, res, false, () =>
        handleCrmWebhook(req, res, { db: database.db, secret: config.crmWebhookSecret, logger, renewalWindowDays: config.jobs.renewalWindowDays }),
      );
    }
    // Never in a lane: an orchestrator asks these to decide whether to restart or route to this replica, and a
    // busy replica is alive and ready.
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const ready = await database.ping();
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'database unavailable' });
    }
    if (path === '/metrics') {
      // SECURITY: figures about the book and the outbox are served on the metrics port only (METRICS_PORT).
      return sendJson(res, 404, { error: 'Metrics are served on their own port (METRICS_PORT, 127.0.0.1:9464 by default), not the public one.' });
    }
    if (localSlack && path.startsWith(LOCAL_SLACK_PATH)) return localSlack.handle(req, res, path);
    if (path === '/') {
      res.writeHead(302, { location: '/graphql' });
      res.end();
      return;
    }
    sendJson(res, 404, { error: `Nothing at ${path}. Try /graphql, ${DASHBOARD_PATH}, ${SLACK_EVENTS_PATH}, /healthz or /readyz.` });
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

export interface MetricsServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** What the database says at scrape time, one row per figure: which figure, its labels, its value. */
interface DatabaseFigure extends Record<string, unknown> {
  figure: 'outbox' | 'oldest_pending' | 'health' | 'job_success';
  a: string;
  b: string;
  c: string;
  value: number | string;
}

/** The figures read from the database when Prometheus scrapes, in one statement (not on every request). */
function databaseFigures(database: Database): { registry: Registry; refresh(): Promise<void> } {
  const registry = new Registry();
  const registers = [registry];
  const outboxRows = new Gauge({ name: 'lifeline_outbox_rows', help: 'Outbox rows by status (pending, sent, parked), kind and target (slack, webhook).', labelNames: ['status', 'kind', 'target'] as const, registers });
  const parked = new Gauge({ name: 'lifeline_outbox_parked', help: 'Parked outbox rows (delivery gave up; see GraphQL notifications/webhookDeliveries), by target.', labelNames: ['target'] as const, registers });
  const oldest = new Gauge({ name: 'lifeline_outbox_oldest_pending_age_seconds', help: 'Age of the oldest pending outbox row, by target; 0 when none is pending.', labelNames: ['target'] as const, registers });
  const health = new Gauge({ name: 'lifeline_accounts_by_health_status', help: 'Accounts by health status.', labelNames: ['status'] as const, registers });
  const lastSuccess = new Gauge({ name: 'lifeline_job_last_success_timestamp_seconds', help: 'When each job last succeeded (any replica), as a Unix time.', labelNames: ['job'] as const, registers });
  const scrapeErrors = new Gauge({ name: 'lifeline_metrics_database_up', help: '1 when the database figures were read at this scrape, 0 when the database did not answer.', registers });

  async function read(): Promise<void> {
    const rows = await queryRows<DatabaseFigure>(
      database.db,
      sql`
      select 'outbox' as figure, status::text as a, kind as b, case when target like 'webhook:%' then 'webhook' else 'slack' end as c, count(*)::float8 as value
        from outbox group by 2, 3, 4
      union all
      select 'oldest_pending', case when target like 'webhook:%' then 'webhook' else 'slack' end, '', '', extract(epoch from now() - min(created_at))::float8
        from outbox where status = 'pending' group by 2
      union all
      select 'health', status::text, '', '', count(*)::float8 from account_health group by 2
      union all
      select 'job_success', job, '', '', extract(epoch from max(finished_at))::float8 from job_runs where status = 'succeeded' group by 2`,
    );
    for (const gauge of [outboxRows, parked, oldest, health, lastSuccess]) gauge.reset();
    for (const target of ['slack', 'webhook']) {
      parked.set({ target }, 0);
      oldest.set({ target }, 0);
    }
    for (const row of rows) {
      const value = Number(row.value);
      if (row.figure === 'outbox') {
        outboxRows.set({ status: row.a, kind: row.b, target: row.c }, value);
        if (row.a === 'parked') parked.inc({ target: row.c }, value);
      } else if (row.figure === 'oldest_pending') oldest.set({ target: row.a }, Math.max(value, 0));
      else if (row.figure === 'health') health.set({ status: row.a }, value);
      else lastSuccess.set({ job: row.a }, value);
    }
  }

  scrapeErrors.set(0);
  return {
    registry,
    async refresh() {
      try {
        await read();
        scrapeErrors.set(1);
      } catch {
        scrapeErrors.set(0);
      }
    },
  };
}

export interface MetricsServerOptions {
  database: Database;
  logger: Logger;
  port: number;
  host: string;
}

/**
 * Serves /metrics on its own port, apart from the public one: Prometheus reaches it where the operator opens it
 * (127.0.0.1 by default), and nothing on the public port shows the book's figures. /healthz and /readyz stay on
 * the public port, open.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const figures = databaseFigures(options.database);
  const registry = Registry.merge([processRegistry, figures.registry]);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://lifeline.invalid').pathname;
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return sendJson(res, 404, { error: 'Only GET /metrics is served here.' });
    void (async () => {
      await figures.refresh();
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch((error: unknown) => {
      options.logger.error({ err: error }, 'metrics scrape failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'metrics unavailable' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/metrics`,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
