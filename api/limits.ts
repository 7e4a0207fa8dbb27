import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { type Plugin, createGraphQLError } from 'graphql-yoga';
import { MAX_USAGE_ROWS } from '../domain/signals.ts';
import { ReadBody } from '../request-body.ts';

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

/** The answers Yoga's own body limit gives, kept word for word. */
function bodyTooLarge(): GraphQLError {
  return createGraphQLError('Request body too large', { extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' } });
}
function invalidContentLength(): GraphQLError {
  return createGraphQLError('Content-Length header is invalid.', { extensions: { http: { status: 400 }, code: 'BAD_REQUEST' } });
}

/** A single non-negative integer; anything else (a list, as in request smuggling) is refused. */
const CONTENT_LENGTH = /^\d+$/;

/**
 * Whether the body is already known to end within `limit`: read whole by server.ts within its bound (ReadBody), or
 * streamed by Node's HTTP server under a Content-Length at most `limit` (checked before this is asked). Node's
 * parser delivers exactly that many bytes and refuses a request that also says Transfer-Encoding, so no more can come.
 */
function boundedAlready(serverContext: object): boolean {
  const req: unknown = 'req' in serverContext ? serverContext.req : undefined;
  if (!(req instanceof IncomingMessage)) return false;
  if ('body' in req) return req.body instanceof ReadBody;
  return req.headers['content-length'] !== undefined;
}

/**
 * The body bound, in place of Yoga's own (maxRequestBodySize: false in api/yoga.ts), which makes the same checks but
 * passes every body through a counting stream, even one already in memory or bounded by its Content-Length: that
 * stream, with the request it rebuilds and the AbortController its pipe aborts when done, was about 4% of the CPU of
 * a dashboard page (bench/dashboard.bench.ts). A body nothing bounds yet (chunked, or handed to `yoga.fetch` as a
 * stream) is still counted as it is read and refused past `limit`.
 */
export function useRequestBodyBound(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, serverContext, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        if (!CONTENT_LENGTH.test(declared)) throw invalidContentLength();
        if (Number(declared) > limit) throw bodyTooLarge();
      }
      const body = request.body;
      if (!requestParser || !body || boundedAlready(serverContext)) return;
      const parse = requestParser;
      setRequestParser((unbounded) => {
        let read = 0;
        // A native stream pipes only into a native TransformStream, a ponyfilled one into the ponyfill's (as Yoga does).
        const Transform = body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
        const counted = body.pipeThrough(
          new Transform<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              read += chunk.byteLength;
              if (read > limit) controller.error(bodyTooLarge());
              else controller.enqueue(chunk);
            },
          }),
        );
        // A streamed body needs `duplex`, which TypeScript's RequestInit does not know yet.
        const init: RequestInit & { duplex: 'half' } = { method: unbounded.method, headers: unbounded.headers, signal: unbounded.signal, body: counted, duplex: 'half' };
        return parse(new fetchAPI.Request(unbounded.url, init));
      });
    },
  };
}

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
