import { readFileSync } from 'node:fs';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { GraphQLError, getOperationAST } from 'graphql';
import { type Plugin, type YogaServerInstance, createYoga, maskError as defaultMaskError } from 'graphql-yoga';
import pino, { type Logger } from 'pino';
import { type Db, isDatabaseUnavailable } from '../db/client.ts';
import { DomainError } from '../domain/errors.ts';
import { authenticateToken } from '../domain/tokens.ts';
import { type ProcessJobs, createCoreJobs } from '../jobs/registry.ts';
import { usePricedDocuments } from './builder.ts';
import { type ApiContext, createApiContext } from './context.ts';
import { GRAPHQL_BODY_LIMIT, queryDocumentLimitPlugins, useRequestBodyBound } from './limits.ts';
import { useNulCharacterRefusal, useVariableCoercionErrors } from './variables.ts';
import { schema } from './schema.ts';
import { renderGraphiqlPage, useGraphiqlSecurityHeaders } from './graphiql.ts';
import { graphqlDuration, graphqlErrors, graphqlOperations, operationLabel } from '../metrics.ts';

/** GraphiQL opens on the dashboard example; every file in api/examples is exercised by test/api-examples.test.ts. */
const DASHBOARD_EXAMPLE = readFileSync(new URL('./examples/dashboard.graphql', import.meta.url), 'utf8');

export interface GraphqlOptions {
  db: Db;
  logger: Logger;
  bootstrapAdminToken?: string | undefined;
  /** Called with the accounts an ingestion mutation brought new signals for (see domain/health/refresh.ts). */
  onSignals?: ((accountIds: readonly string[]) => void) | undefined;
  /** Days before contract end that a renewal window opens (config.jobs.renewalWindowDays); the domain default otherwise. */
  renewalWindowDays?: number | undefined;
  /**
   * The jobs the `runJob` mutation runs, with the logger of their runs (server.ts passes the process's jobs). Without
   * them: the jobs that need only the database, with the given renewal window, and runs are not logged.
   */
  jobs?: ProcessJobs | undefined;
  /**
   * Origins (`https://dash.example.com`) whose pages may call the API from a browser, with the bearer token they
   * hold. None by default: only pages served by Lifeline itself (GraphiQL), which browsers treat as same-origin.
   */
  corsOrigins?: readonly string[] | undefined;
  /**
   * The token GraphiQL's Authorization header is filled in with: the demo admin token when Lifeline runs on its own
   * (listening on loopback only). Otherwise the header shows where a token goes.
   */
  graphiqlToken?: string | undefined;
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="lifeline"' } } },
  });
}

/** Domain errors keep their message and code; anything unexpected is logged and masked. */
function toClientError(error: unknown, message: string, isDev?: boolean): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof DomainError) {
    const graphqlError = error instanceof GraphQLError ? error : undefined;
    return new GraphQLError(original.message, {
      ...(graphqlError?.nodes ? { nodes: graphqlError.nodes } : {}),
      ...(graphqlError?.path ? { path: graphqlError.path } : {}),
      extensions: { code: original.code, ...(original.field ? { field: original.field } : {}) },
    });
  }
  if (isDatabaseUnavailable(original)) {
    return new GraphQLError(
      "Lifeline's database is unavailable right now, so nothing was read or changed. Retry in a minute; /readyz reports when it is back.",
      { extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503, headers: { 'Retry-After': '30' } } } },
    );
  }
  return defaultMaskError(error, message, isDev);
}

/** The code an error answer carries: the domain's, GraphQL's own, or INTERNAL for anything unexpected. */
function errorCode(error: GraphQLError): string {
  const original = error.originalError;
  if (original instanceof DomainError) return original.code;
  const code = error.extensions?.code;
  if (typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code)) return code;
  return original ? (isDatabaseUnavailable(original) ? 'SERVICE_UNAVAILABLE' : 'INTERNAL') : 'BAD_REQUEST';
}

/** Counts operations by name with their latency, and their errors by code (metrics.ts). */
function useOperationMetrics(): Plugin {
  return {
    onValidate({ params }) {
      return ({ valid, result }) => {
        if (valid) return;
        const operation = operationLabel(getOperationAST(params.documentAST)?.name?.value);
        for (const error of result) graphqlErrors.inc({ operation, code: errorCode(error) });
      };
    },
    onExecute({ args }) {
      const definition = getOperationAST(args.document, args.operationName ?? undefined);
      const operation = operationLabel(definition?.name?.value);
      graphqlOperations.inc({ operation, type: definition?.operation ?? 'unknown' });
      const timer = graphqlDuration.startTimer({ operation });
      return {
        onExecuteDone({ result }) {
          timer();
          if (!('errors' in result) || !result.errors) return;
          for (const error of result.errors) graphqlErrors.inc({ operation, code: errorCode(error) });
        },
      };
    },
  };
}

/** Yoga logs errors as positional arguments; pino serialises an Error only under `err`. */
function logFields(args: unknown[]): Record<string, unknown> {
  const err = args.find((arg) => arg instanceof Error);
  const rest = args.filter((arg) => !(arg instanceof Error));
  return { ...(err ? { err } : {}), ...(rest.length > 0 ? { args: rest } : {}) };
}

/**
 * Codes that mean the client sent something wrong: answered to the client, nothing for an operator to do. Any token
 * holder can cause them at will, so they are logged at debug, without a stack, or they would flood the logs.
 */
const CLIENT_ERROR_CODES: ReadonlySet<string> = new Set(['BAD_USER_INPUT', 'NOT_FOUND', 'FORBIDDEN', 'STALE_VERSION', 'UNAUTHENTICATED', 'QUERY_TOO_COMPLEX']);

/** The code of a client's own mistake among Yoga's log arguments, or undefined for anything an operator should see. */
function clientErrorCode(args: unknown[]): string | undefined {
  const error = args.find((arg) => arg instanceof Error);
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof DomainError) return CLIENT_ERROR_CODES.has(original.code) ? original.code : undefined;
  const code = original instanceof GraphQLError ? original.extensions.code : undefined;
  return typeof code === 'string' && CLIENT_ERROR_CODES.has(code) ? code : undefined;
}

export function createGraphqlServer(options: GraphqlOptions): YogaServerInstance<Record<string, never>, ApiContext> {
  const { db, logger } = options;
  const jobs = options.jobs ?? {
    jobs: createCoreJobs(options.renewalWindowDays !== undefined ? { renewalWindowDays: options.renewalWindowDays } : {}),
    logger: pino({ level: 'silent' }),
  };
  const corsOrigins = new Set(options.corsOrigins ?? []);
  return createYoga<Record<string, never>, ApiContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(logFields(args), 'graphql'),
      info: (...args) => logger.info(logFields(args), 'graphql'),
      warn: (...args) => logger.warn(logFields(args), 'graphql'),
      error: (...args) => {
        const code = clientErrorCode(args);
        if (code === undefined) {
          logger.error(logFields(args), 'graphql');
          return;
        }
        const error = args.find((arg) => arg instanceof Error);
        logger.debug({ code, message: error instanceof Error ? error.message : undefined }, 'graphql request refused');
      },
    },
    // SECURITY: Yoga's default reflects any Origin with credentials allowed, so any web page could call the API
    // with what the browser holds. Only configured origins get CORS headers; any other gets none, and the
    // browser keeps the answer from the page (a preflight from it is not allowed either).
    cors: (request) => {
      const origin = request.headers.get('origin');
      return origin !== null && corsOrigins.has(origin) ? { origin: [origin], credentials: true } : false;
    },
    graphiql: {
      title: 'Lifeline GraphQL',
      defaultQuery: DASHBOARD_EXAMPLE,
      headers: JSON.stringify({ Authorization: `Bearer ${options.graphiqlToken ?? '<your Lifeline API token>'}` }, null, 2),
    },
    // Served from the installed package, not a CDN, under a Content-Security-Policy (api/graphiql.ts).
    renderGraphiQL: renderGraphiqlPage,
    maskedErrors: { maskError: toClientError },
    // Bounded by useRequestBodyBound instead, with the same checks and answers (api/limits.ts).
    maxRequestBodySize: false,
    // graphql-jit compiles each distinct document once (cached beside Yoga's parse cache) and cut the CPU of a
    // dashboard page by about a third (bench/dashboard-profile.ts). The limits still hold: graphql-armor runs on
    // parse and validate, before execution; the Pothos complexity check wraps the root resolvers, which the
    // compiled query calls (an operation without variables is priced once per document: usePricedDocuments);
    // error masking is Yoga's and sees the same errors (test/graphql*.test.ts). Variables that graphql-jit
    // refuses are checked again by graphql-js, for its clearer messages (api/variables.ts).
    plugins: [useOperationMetrics(), useGraphiqlSecurityHeaders(), ...queryDocumentLimitPlugins(), useNulCharacterRefusal(), useVariableCoercionErrors(), usePricedDocuments(), useGraphQlJit(), useRequestBodyBound(GRAPHQL_BODY_LIMIT)],
    context: async ({ request }) => {
      const header = request.headers.get('authorization');
      if (!header) {
        throw unauthenticated('Missing bearer token: send the header "Authorization: Bearer <token>" with a Lifeline API token.');
      }
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match?.[1]) {
        throw unauthenticated('The Authorization header must be "Bearer <token>".');
      }
      const actor = await authenticateToken(db, match[1], { bootstrapAdminToken: options.bootstrapAdminToken });
      if (!actor) {
        throw unauthenticated('This API token is unknown or revoked. Ask a Lifeline admin for a new token.');
      }
      return createApiContext(db, actor, options.onSignals, options.renewalWindowDays, jobs);
    },
  });
}
