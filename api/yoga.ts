import { readFileSync } from 'node:fs';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { GraphQLError } from 'graphql';
import { type YogaServerInstance, createYoga, maskError as defaultMaskError } from 'graphql-yoga';
import type { Logger } from 'pino';
import { type Db, isDatabaseUnavailable } from '../db/client.ts';
import { DomainError } from '../domain/errors.ts';
import { authenticateToken } from '../domain/tokens.ts';
import { type ApiContext, createApiContext } from './context.ts';
import { queryDocumentLimitPlugins } from './limits.ts';
import { useVariableCoercionErrors } from './variables.ts';
import { schema } from './schema.ts';

/** GraphiQL opens on the dashboard example; every file in api/examples is exercised by test/api-examples.test.ts. */
const DASHBOARD_EXAMPLE = readFileSync(new URL('./examples/dashboard.graphql', import.meta.url), 'utf8');

export interface GraphqlOptions {
  db: Db;
  logger: Logger;
  bootstrapAdminToken?: string | undefined;
  /** Called with the accounts an ingestion mutation brought new signals for (see domain/health-refresh.ts). */
  onSignals?: ((accountIds: readonly string[]) => void) | undefined;
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

/** Yoga logs errors as positional arguments; pino serialises an Error only under `err`. */
function logFields(args: unknown[]): Record<string, unknown> {
  const err = args.find((arg) => arg instanceof Error);
  const rest = args.filter((arg) => !(arg instanceof Error));
  return { ...(err ? { err } : {}), ...(rest.length > 0 ? { args: rest } : {}) };
}

export function createGraphqlServer(options: GraphqlOptions): YogaServerInstance<Record<string, never>, ApiContext> {
  const { db, logger } = options;
  return createYoga<Record<string, never>, ApiContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: {
      debug: (...args) => logger.debug(logFields(args), 'graphql'),
      info: (...args) => logger.info(logFields(args), 'graphql'),
      warn: (...args) => logger.warn(logFields(args), 'graphql'),
      error: (...args) => logger.error(logFields(args), 'graphql'),
    },
    graphiql: {
      title: 'Lifeline GraphQL',
      defaultQuery: DASHBOARD_EXAMPLE,
    },
    maskedErrors: { maskError: toClientError },
    // graphql-jit compiles each distinct document once (cached beside Yoga's parse cache) and cut the CPU of a
    // dashboard page by about a third (bench/dashboard-profile.ts). The limits still hold: graphql-armor runs on
    // parse and validate, before execution; the Pothos complexity check wraps the root resolvers, which the
    // compiled query calls; error masking is Yoga's and sees the same errors (test/graphql*.test.ts). Variables that
    // graphql-jit refuses are checked again by graphql-js, for its clearer messages (api/variables.ts).
    plugins: [...queryDocumentLimitPlugins(), useVariableCoercionErrors(), useGraphQlJit()],
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
      return createApiContext(db, actor, options.onSignals);
    },
  });
}
