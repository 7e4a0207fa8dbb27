import pino from 'pino';
import { createGraphqlServer } from '../../api/yoga.ts';
import type { Db } from '../../db/client.ts';

export interface GraphqlResponse {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  };
}

export const silentLogger = pino({ level: 'silent' });

/** Runs operations through the real Yoga server in-process (yoga.fetch), with a bearer token. */
export function createGraphqlClient(db: Db, options: { bootstrapAdminToken?: string; onSignals?: (accountIds: readonly string[]) => void } = {}) {
  const yoga = createGraphqlServer({ db, logger: silentLogger, bootstrapAdminToken: options.bootstrapAdminToken, onSignals: options.onSignals });
  return {
    yoga,
    async request(query: string, variables: Record<string, unknown> = {}, token?: string, headers: Record<string, string> = {}): Promise<GraphqlResponse> {
      const response = await yoga.fetch('http://lifeline.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: await response.json() };
    },
  };
}
