import { validate as isCronExpression } from 'node-cron';
import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

/** Jobs whose schedule can be overridden, each with `LIFELINE_SCHEDULE_<JOB>`. */
const scheduledJobs = ['health', 'renewals', 'rules', 'digest', 'outbox', 'slack_links'] as const;

/**
 * A lost run older than this is not redone: its moment has passed (a digest posted at night is no help), and
 * the job's next fire does its work. Declared here, beside the catch-up grace bounded by it; the scheduler and its
 * run coordinator take it from here.
 */
export const DEFAULT_REDO_WITHIN_MS = 12 * 3_600_000;

/** The catch-up grace stays below how long a missed slot may still be redone, or no slot would ever be caught up. */
const MAX_CATCH_UP_GRACE_SECONDS = DEFAULT_REDO_WITHIN_MS / 1000 - 1;
const CATCH_UP_GRACE_RANGE = `LIFELINE_CATCH_UP_GRACE_SECONDS must be a whole number of seconds from 0 to ${MAX_CATCH_UP_GRACE_SECONDS} (a missed slot is redone for ${DEFAULT_REDO_WITHIN_MS / 3_600_000} hours)`;

/**
 * Connections in the PostgreSQL pool of each process (db/client.ts). The API lane's default is set from it: a few
 * connections stay free for Slack, the jobs, outbox delivery and /readyz while GraphQL works at full tilt.
 */
export const POSTGRES_POOL_SIZE = 10;
const CONNECTIONS_KEPT_FOR_THE_REST = 2;
/** PGlite answers one statement at a time, in this process: more requests at work only wait inside it, unbounded. */
const PGLITE_API_IN_FLIGHT = 2;

const laneLimit = (variable: string, min: number, what: string) => {
  const message = `${variable} must be a whole number from ${min} to 10000 (${what})`;
  // An empty variable counts as unset, not as 0.
  return optionalText.pipe(z.coerce.number<string | undefined>({ error: message }).int(message).min(min, message).max(10_000, message).optional());
};

const cronSchedule = (variable: string) =>
  optionalText.pipe(
    z
      .string()
      .refine(isCronExpression, `${variable} must be a cron expression such as "0 * * * *" (minute hour day month weekday, optional seconds first)`)
      .optional(),
  );

/** An exact web origin as browsers send it in `Origin`: scheme, host and port, nothing after. */
function isOrigin(candidate: string): boolean {
  try {
    const url = new URL(candidate);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === candidate;
  } catch {
    return false;
  }
}

const corsOrigins = z
  .string()
  .default('')
  .transform((value) => value.split(',').map((origin) => origin.trim()).filter((origin) => origin !== ''))
  .superRefine((origins, ctx) => {
    for (const origin of origins.filter((candidate) => !isOrigin(candidate))) {
      ctx.addIssue({
        code: 'custom',
        message: `LIFELINE_CORS_ORIGINS must list origins such as https://dash.example.com, separated by commas (scheme, host and optional port; no path, no trailing slash): "${origin}" is not one`,
      });
    }
  });

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const configSchema = z
  .object({
    PORT: z.coerce
      .number({ error: 'PORT must be a whole number between 0 and 65535' })
      .int('PORT must be a whole number between 0 and 65535')
      .min(0, 'PORT must be a whole number between 0 and 65535')
      .max(65535, 'PORT must be a whole number between 0 and 65535')
      .default(3000),
    METRICS_PORT: z
      .string()
      .trim()
      .default('9464')
      .refine((value) => value === 'off' || (/^\d+$/.test(value) && Number(value) <= 65535), 'METRICS_PORT must be a port number (0 to 65535) or "off"'),
    METRICS_HOST: z.string().trim().min(1).default('127.0.0.1'),
    DATABASE_URL: optionalText.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// or postgresql:// connection URL')
        .optional(),
    ),
    PGLITE_DIR: z.string().trim().min(1).default('.data/pglite'),
    HOST: optionalText,
    SLACK_BOT_TOKEN: optionalText.pipe(
      z.string().startsWith('xoxb-', 'SLACK_BOT_TOKEN must be a bot token starting with "xoxb-"').optional(),
    ),
    SLACK_SIGNING_SECRET: optionalText,
    SLACK_APP_TOKEN: optionalText.pipe(
      z.string().startsWith('xapp-', 'SLACK_APP_TOKEN must be an app-level token starting with "xapp-" (Basic Information → App-Level Tokens, scope connections:write)').optional(),
    ),
    SLACK_HANDOFF_CHANNEL: optionalText.pipe(
      z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'SLACK_HANDOFF_CHANNEL must be a Slack channel id such as C0123456789 (not a #name)').optional(),
    ),
    SLACK_AT_RISK_CHANNEL: optionalText.pipe(
      z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'SLACK_AT_RISK_CHANNEL must be a Slack channel id such as C0123456789 (not a #name)').optional(),
    ),
    SLACK_API_URL: z
      .url({ error: 'SLACK_API_URL must be an http(s) URL such as https://slack.com/api/' })
      .default('https://slack.com/api/'),
    LIFELINE_ADMIN_TOKEN: optionalText.pipe(
      z.string().min(24, 'LIFELINE_ADMIN_TOKEN must be at least 24 characters long').optional(),
    ),
    LOG_LEVEL: z.enum(logLevels, { error: `LOG_LEVEL must be one of ${logLevels.join(', ')}` }).default('info'),
    LIFELINE_SEED_DEMO: z
      .enum(['auto', 'never'], { error: 'LIFELINE_SEED_DEMO must be "auto" or "never"' })
      .default('auto'),
    CRM_WEBHOOK_SECRET: optionalText.pipe(
      z.string().min(24, 'CRM_WEBHOOK_SECRET must be at least 24 characters long (generate one with `openssl rand -hex 32`)').optional(),
    ),
    LIFELINE_TIMEZONE: z
      .string()
      .trim()
      .refine(isTimeZone, 'LIFELINE_TIMEZONE must be an IANA time zone such as Europe/Paris or America/New_York')
      .default('UTC'),
    LIFELINE_JOBS: z.enum(['on', 'off'], { error: 'LIFELINE_JOBS must be "on" or "off"' }).default('on'),
    LIFELINE_SCHEDULE_HEALTH: cronSchedule('LIFELINE_SCHEDULE_HEALTH'),
    LIFELINE_SCHEDULE_RENEWALS: cronSchedule('LIFELINE_SCHEDULE_RENEWALS'),
    LIFELINE_SCHEDULE_RULES: cronSchedule('LIFELINE_SCHEDULE_RULES'),
    LIFELINE_SCHEDULE_DIGEST: cronSchedule('LIFELINE_SCHEDULE_DIGEST'),
    LIFELINE_SCHEDULE_OUTBOX: cronSchedule('LIFELINE_SCHEDULE_OUTBOX'),
    LIFELINE_SCHEDULE_SLACK_LINKS: cronSchedule('LIFELINE_SCHEDULE_SLACK_LINKS'),
    LIFELINE_RENEWAL_WINDOW_DAYS: z.coerce
      .number({ error: 'LIFELINE_RENEWAL_WINDOW_DAYS must be a whole number of days from 1 to 365' })
      .int('LIFELINE_RENEWAL_WINDOW_DAYS must be a whole number of days from 1 to 365')
      .min(1, 'LIFELINE_RENEWAL_WINDOW_DAYS must be a whole number of days from 1 to 365')
      .max(365, 'LIFELINE_RENEWAL_WINDOW_DAYS must be a whole number of days from 1 to 365')
      .default(90),
    LIFELINE_CATCH_UP_GRACE_SECONDS: z.coerce
      .number({ error: CATCH_UP_GRACE_RANGE })
      .int(CATCH_UP_GRACE_RANGE)
      .min(0, CATCH_UP_GRACE_RANGE)
      .max(MAX_CATCH_UP_GRACE_SECONDS, CATCH_UP_GRACE_RANGE)
      .default(60),
    LIFELINE_CORS_ORIGINS: corsOrigins,
    LIFELINE_API_MAX_IN_FLIGHT: laneLimit('LIFELINE_API_MAX_IN_FLIGHT', 1, 'GraphQL and CRM webhook requests worked on at once'),
    LIFELINE_API_MAX_QUEUED: laneLimit('LIFELINE_API_MAX_QUEUED', 0, 'GraphQL and CRM webhook requests waiting before more are refused with 503'),
    LIFELINE_SLACK_MAX_IN_FLIGHT: laneLimit('LIFELINE_SLACK_MAX_IN_FLIGHT', 1, 'acked Slack requests worked on at once'),
    LIFELINE_SLACK_MAX_QUEUED: laneLimit('LIFELINE_SLACK_MAX_QUEUED', 0, 'acked Slack requests waiting before more are refused with 503 for Slack to retry'),
  })
  .superRefine((env, ctx) => {
    // SECURITY: a bot that can post but cannot verify what it receives would act on forged requests.
    if (env.SLACK_APP_TOKEN && !env.SLACK_BOT_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_BOT_TOKEN'],
        message: 'SLACK_BOT_TOKEN is required when SLACK_APP_TOKEN is set (copy the xoxb- token from "OAuth & Permissions")',
      });
    }
    // Over Socket Mode nothing arrives over HTTP, so there is nothing to verify with a signing secret.
    if (env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message:
          'SLACK_SIGNING_SECRET is required when SLACK_BOT_TOKEN is set (copy it from your Slack app\'s "Basic Information" page), or set SLACK_APP_TOKEN to connect over Socket Mode',
      });
    }
    if (env.SLACK_SIGNING_SECRET && !env.SLACK_BOT_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_BOT_TOKEN'],
        message:
          'SLACK_BOT_TOKEN is required when SLACK_SIGNING_SECRET is set (copy the xoxb- token from "OAuth & Permissions"), or unset both to run in local mode',
      });
    }
  });

type ParsedEnv = z.output<typeof configSchema>;

export interface Config {
  port: number;
  /**
   * Interface to listen on: HOST when set; else 127.0.0.1 when Lifeline runs on its own (the embedded database and
   * no Slack token: a demo nobody else should reach); else every interface.
   */
  host: string | undefined;
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dir: string };
  slack:
    | { mode: 'slack'; botToken: string; signingSecret: string; apiUrl: string }
    /** Socket Mode (SLACK_APP_TOKEN): Lifeline connects to Slack and serves no /slack/events. */
    | { mode: 'socket'; botToken: string; appToken: string; apiUrl: string }
    | { mode: 'local'; apiUrl: string };
  /** Where channel notifications go; unset channels park their notifications with a message saying so. */
  slackChannels: { handoffs: string | undefined; atRisk: string | undefined };
  adminToken: string | undefined;
  /**
   * Where Prometheus scrapes /metrics: its own port, apart from the public one (127.0.0.1:9464 by default, so only
   * this machine or a sidecar reaches it); null when METRICS_PORT=off.
   */
  metrics: { port: number; host: string } | null;
  /** Shared secret that signs POST /webhooks/crm; unset: the webhook answers 404. */
  crmWebhookSecret: string | undefined;
  /** Origins whose web pages may call /graphql from a browser; empty: same-origin only (GraphiQL). */
  corsOrigins: string[];
  /**
   * Admission control (admission.ts): how many requests of each lane are worked on at once and how many wait;
   * past that they are answered 503 with Retry-After. `api` is GraphQL and the CRM webhook; `slack` is the work of
   * Slack requests after their ack. /healthz and /readyz are in no lane.
   */
  lanes: { api: { maxInFlight: number; maxQueued: number }; slack: { maxInFlight: number; maxQueued: number } };
  logLevel: (typeof logLevels)[number];
  seedDemo: 'auto' | 'never';
  jobs: {
    /** Off: this replica serves HTTP only and schedules nothing. */
    enabled: boolean;
    /** IANA zone the cron schedules are read in (the digest's 09:00 is 09:00 there). */
    timezone: string;
    /** Overrides of the default cron schedules, by job. */
    schedules: Partial<Record<(typeof scheduledJobs)[number], string>>;
    renewalWindowDays: number;
    /** How long after a slot a replica waits for its own fire before catching the slot up as missed. */
    catchUpGraceMs: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Lifeline cannot start, the configuration has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function toConfig(env: ParsedEnv): Config {
  const onItsOwn = !env.DATABASE_URL && !(env.SLACK_BOT_TOKEN && env.SLACK_SIGNING_SECRET) && !env.SLACK_APP_TOKEN;
  return {
    port: env.PORT,
    host: env.HOST ?? (onItsOwn ? '127.0.0.1' : undefined),
    database: env.DATABASE_URL ? { kind: 'postgres', url: env.DATABASE_URL } : { kind: 'pglite', dir: env.PGLITE_DIR },
    slack:
      env.SLACK_BOT_TOKEN && env.SLACK_APP_TOKEN
        ? { mode: 'socket', botToken: env.SLACK_BOT_TOKEN, appToken: env.SLACK_APP_TOKEN, apiUrl: env.SLACK_API_URL }
        : env.SLACK_BOT_TOKEN && env.SLACK_SIGNING_SECRET
          ? { mode: 'slack', botToken: env.SLACK_BOT_TOKEN, signingSecret: env.SLACK_SIGNING_SECRET, apiUrl: env.SLACK_API_URL }
          : { mode: 'local', apiUrl: env.SLACK_API_URL },
    slackChannels: { handoffs: env.SLACK_HANDOFF_CHANNEL, atRisk: env.SLACK_AT_RISK_CHANNEL },
    adminToken: env.LIFELINE_ADMIN_TOKEN,
    metrics: env.METRICS_PORT === 'off' ? null : { port: Number(env.METRICS_PORT), host: env.METRICS_HOST },
    crmWebhookSecret: env.CRM_WEBHOOK_SECRET,
    corsOrigins: env.LIFELINE_CORS_ORIGINS,
    lanes: {
      api: {
        maxInFlight: env.LIFELINE_API_MAX_IN_FLIGHT ?? (env.DATABASE_URL ? POSTGRES_POOL_SIZE - CONNECTIONS_KEPT_FOR_THE_REST : PGLITE_API_IN_FLIGHT),
        maxQueued: env.LIFELINE_API_MAX_QUEUED ?? 64,
      },
      // Acked Slack requests are cheap to hold; a refusal makes Slack send the request again (3 tries), so the line
      // is long and refusal only guards memory against a flood.
      slack: { maxInFlight: env.LIFELINE_SLACK_MAX_IN_FLIGHT ?? 4, maxQueued: env.LIFELINE_SLACK_MAX_QUEUED ?? 500 },
    },
    logLevel: env.LOG_LEVEL,
    seedDemo: env.LIFELINE_SEED_DEMO,
    jobs: {
      enabled: env.LIFELINE_JOBS === 'on',
      timezone: env.LIFELINE_TIMEZONE,
      schedules: Object.fromEntries(
        scheduledJobs.flatMap((job) => {
          const expression = env[`LIFELINE_SCHEDULE_${job.toUpperCase()}` as `LIFELINE_SCHEDULE_${Uppercase<typeof job>}`];
          return expression ? [[job, expression]] : [];
        }),
      ),
      renewalWindowDays: env.LIFELINE_RENEWAL_WINDOW_DAYS,
      catchUpGraceMs: env.LIFELINE_CATCH_UP_GRACE_SECONDS * 1000,
    },
  };
}

/** Parses an environment once; every problem is reported together, each naming its variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const variable = issue.path.join('.');
      return issue.message.startsWith(variable) ? issue.message : `${variable}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  return toConfig(result.data);
}

/** The one place that reads process.env. */
export function loadConfig(): Config {
  return parseConfig(process.env);
}

/**
 * The configuration for a command's entry point: every problem is written to stderr and undefined comes back, so
 * the command exits non-zero without a stack trace.
 */
export function loadConfigOrReport(): Config | undefined {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return undefined;
  }
}
