import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { MAX_USAGE_ROWS } from '../domain/signals.ts';

/**
 * Limits applied before a query runs. The Pothos complexity plugin (api/builder.ts) prices schema fields; these
 * catch what it cannot see: documents too long to parse safely (a 10,000-level nesting overflows the validator's
 * stack), `__typename` aliases (free to Pothos, not to the server), and nesting through introspection.
 * The depth allows GraphiQL's own introspection query, which nests about 13 levels through `ofType`.
 */
export const QUERY_DOCUMENT_LIMITS = { tokens: 5_000, aliases: 50, depth: 15, nesting: 40 } as const;

/**
 * The largest GraphQL request body accepted, in bytes. The largest legitimate one is a full `recordUsage` batch:
 * MAX_USAGE_ROWS account-days of about 150 bytes each as JSON (more with CRM ids), so twice that with room to spare.
 * Anything larger is refused with 413 before it is read into memory.
 */
export const GRAPHQL_BODY_LIMIT = MAX_USAGE_ROWS * 320;

/**
 * The deepest bracket nesting in a document, skipping strings and comments. graphql-js parses recursively, so a
 * document nested a few thousand levels overflows the stack before any token or depth rule runs: this cheap
 * scan refuses it first.
 */
export function maxNesting(document: string): number {
  let depth = 0;
  let deepest = 0;
  for (let index = 0; index < document.length; index += 1) {
    const char = document[index];
    if (char === '#') {
      while (index < document.length && document[index] !== '\n') index += 1;
    } else if (char === '"') {
      const block = document.startsWith('"""', index);
      index += block ? 3 : 1;
      while (index < document.length && !(block ? document.startsWith('"""', index) : document[index] === '"' || document[index] === '\n')) {
        if (document[index] === '\\') index += 1;
        index += 1;
      }
      if (block) index += 2;
    } else if (char === '{' || char === '(' || char === '[') {
      depth += 1;
      deepest = Math.max(deepest, depth);
    } else if (char === '}' || char === ')' || char === ']') {
      depth -= 1;
    }
  }
  return deepest;
}

function nestingLimitPlugin(): Plugin {
  return {
    onParse({ params }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      if (maxNesting(source) > QUERY_DOCUMENT_LIMITS.nesting) {
        throw new GraphQLError(
          `Query nested too deeply: more than ${QUERY_DOCUMENT_LIMITS.nesting} levels of brackets. Fetch deeper data with a second query.`,
          { extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'nesting', http: { status: 400 } } },
        );
      }
    },
  };
}

export function queryDocumentLimitPlugins(): Plugin[] {
  return [
    nestingLimitPlugin(),
    maxTokensPlugin({
      n: QUERY_DOCUMENT_LIMITS.tokens,
      exposeLimits: false,
      errorMessage: `Query too long: more than ${QUERY_DOCUMENT_LIMITS.tokens} tokens. Split it into smaller queries.`,
    }),
    maxAliasesPlugin({
      n: QUERY_DOCUMENT_LIMITS.aliases,
      exposeLimits: false,
      errorMessage: `Too many aliases: at most ${QUERY_DOCUMENT_LIMITS.aliases} per query. Split it into smaller queries.`,
    }),
    maxDepthPlugin({
      n: QUERY_DOCUMENT_LIMITS.depth,
      exposeLimits: false,
      flattenFragments: true,
      errorMessage: `Query nested too deeply: at most ${QUERY_DOCUMENT_LIMITS.depth} levels. Fetch deeper data with a second query.`,
    }),
  ];
}
