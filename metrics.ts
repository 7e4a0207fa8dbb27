/**
 * Lifeline's own Prometheus figures, beside the process's (prom-client). Counters and histograms are recorded by
 * the code that does the work (delivery, jobs, GraphQL, Slack calls); figures read from the database (the outbox,
 * health, last job runs) are gathered when Prometheus scrapes, by server.ts, with one query.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The figures of this process; server.ts adds the database's at scrape time. */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry });

const registers = [processRegistry];

export const deliveryAttempts = new Counter({
  name: 'lifeline_delivery_attempts_total',
  help: 'Outbox delivery attempts by target (slack, webhook) and outcome (sent, retried, parked).',
  labelNames: ['target', 'outcome'] as const,
  registers,
});

export const deliveryFailures = new Counter({
  name: 'lifeline_delivery_failures_total',
  help: 'Outbox delivery attempts that failed (retried or parked), by target (slack, webhook).',
  labelNames: ['target'] as const,
  registers,
});

export const jobRuns = new Counter({
  name: 'lifeline_job_runs_total',
  help: 'Job runs in this process, by job and outcome (succeeded, failed).',
  labelNames: ['job', 'outcome'] as const,
  registers,
});

export const jobDuration = new Histogram({
  name: 'lifeline_job_duration_seconds',
  help: 'How long job runs took, by job and outcome.',
  labelNames: ['job', 'outcome'] as const,
  buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 900],
  registers,
});

export const recomputeDuration = new Histogram({
  name: 'lifeline_health_recompute_duration_seconds',
  help: 'How long a health recompute took, by scope (book: the hourly job; accounts: after new signals).',
  labelNames: ['scope'] as const,
  buckets: [0.05, 0.25, 1, 5, 15, 60, 300],
  registers,
});

// Shown from the start, before the first hourly recompute, so dashboards and rules find the series.
recomputeDuration.zero({ scope: 'book' });

export const graphqlOperations = new Counter({
  name: 'lifeline_graphql_operations_total',
  help: 'GraphQL operations by operation name and type.',
  labelNames: ['operation', 'type'] as const,
  registers,
});

export const graphqlDuration = new Histogram({
  name: 'lifeline_graphql_operation_duration_seconds',
  help: 'GraphQL operation latency (execution), by operation name.',
  labelNames: ['operation'] as const,
  buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10],
  registers,
});

export const graphqlErrors = new Counter({
  name: 'lifeline_graphql_errors_total',
  help: 'Errors in GraphQL answers, by operation name and error code (extensions.code).',
  labelNames: ['operation', 'code'] as const,
  registers,
});

export const slackApiCalls = new Counter({
  name: 'lifeline_slack_api_calls_total',
  help: 'Slack Web API calls by method and HTTP status class (2xx, 4xx, 429, 5xx, error).',
  labelNames: ['method', 'status'] as const,
  registers,
});

export const slackRateLimited = new Counter({
  name: 'lifeline_slack_rate_limited_total',
  help: 'Slack Web API calls answered 429 (rate limited), by method.',
  labelNames: ['method'] as const,
  registers,
});

export const laneInFlight = new Gauge({
  name: 'lifeline_http_in_flight',
  help: 'Requests being worked on now, by lane (api: GraphQL and the CRM webhook; slack: Slack requests after their ack). See admission.ts.',
  labelNames: ['lane'] as const,
  registers,
});

export const laneQueued = new Gauge({
  name: 'lifeline_http_queue_depth',
  help: 'Requests waiting for a slot now, by lane.',
  labelNames: ['lane'] as const,
  registers,
});

export const laneRejected = new Counter({
  name: 'lifeline_http_rejected_total',
  help: 'Requests refused with 503 and Retry-After because their lane and its queue were full, by lane.',
  labelNames: ['lane'] as const,
  registers,
});

export const laneAbandoned = new Counter({
  name: 'lifeline_http_abandoned_total',
  help: 'Requests dropped from a lane\'s queue because their client disconnected while they waited, by lane.',
  labelNames: ['lane'] as const,
  registers,
});

/** Operation names are chosen by clients: only this many distinct ones are labelled, the rest count as "other". */
const MAX_OPERATION_NAMES = 200;
const seenOperations = new Set<string>();

/** The label for an operation name: anonymous, a bounded set of well-formed names, or other. */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return 'other';
  if (seenOperations.has(name)) return name;
  if (seenOperations.size >= MAX_OPERATION_NAMES) return 'other';
  seenOperations.add(name);
  return name;
}

/** Slack method names as they appear in Web API URLs (`…/api/chat.postMessage`). */
function slackMethod(url: string | URL): string {
  const last = String(url).split('?')[0]?.split('/').pop() ?? '';
  return /^[a-z]+(\.[A-Za-z]+){1,3}$/.test(last) ? last : 'other';
}

type FetchArguments = Parameters<typeof fetch>;

/** The fetch every WebClient is given (`fetch` option): counts each Web API call by method and answer. */
export async function meteredSlackFetch(url: string | URL, init?: FetchArguments[1]): Promise<Response> {
  const method = slackMethod(url);
  try {
    const response = await fetch(url, init);
    const status = response.status === 429 ? '429' : `${Math.floor(response.status / 100)}xx`;
    slackApiCalls.inc({ method, status });
    if (response.status === 429) slackRateLimited.inc({ method });
    return response;
  } catch (error) {
    slackApiCalls.inc({ method, status: 'error' });
    throw error;
  }
}
