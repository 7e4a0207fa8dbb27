import SchemaBuilder from '@pothos/core';
import ComplexityPlugin, { complexityFromQuery } from '@pothos/plugin-complexity';
import { type DocumentNode, GraphQLError, Kind, type ValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ApiContext } from './context.ts';

export const QUERY_LIMITS = { depth: 8, breadth: 200, complexity: 5000 } as const;

/** Requests whose operation usePricedDocuments found within QUERY_LIMITS: Pothos does not price it again. */
const pricedWithinLimits = new WeakSet<object>();

/**
 * Prices an operation without variables once per parsed document (Yoga's parse cache hands a repeated query over as
 * the same document), instead of once per request in the root resolvers: that was about 2% of the CPU of a
 * dashboard page. Only a price within the limits is remembered; any other operation is priced by Pothos as before,
 * which answers one over a limit with its QUERY_TOO_COMPLEX error. Sound because a field's complexity depends on its
 * arguments alone, which such an operation writes in the document: a complexity that read the context (the
 * reader's role, say) would have to drop this.
 */
export function usePricedDocuments(): Plugin {
  const withinLimits = new WeakMap<DocumentNode, boolean>();
  return {
    onExecute({ args }) {
      let within = withinLimits.get(args.document);
      if (within === undefined) {
        within = pricedWithin(args.document, args.schema);
        withinLimits.set(args.document, within);
      }
      if (within && typeof args.contextValue === 'object' && args.contextValue !== null) pricedWithinLimits.add(args.contextValue);
    },
  };
}

function pricedWithin(document: DocumentNode, schema: Parameters<typeof complexityFromQuery>[1]['schema']): boolean {
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1 || operations[0]?.variableDefinitions?.length) return false;
  try {
    const price = complexityFromQuery(document, { schema });
    return price.depth <= QUERY_LIMITS.depth && price.breadth <= QUERY_LIMITS.breadth && price.complexity <= QUERY_LIMITS.complexity;
  } catch {
    // Pothos prices it again at execution and reports what it finds.
    return false;
  }
}

export const builder = new SchemaBuilder<{
  Context: ApiContext;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Date: { Input: string; Output: string };
  };
}>({
  plugins: [ComplexityPlugin],
  defaultFieldNullability: false,
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: 10,
    limit: (context) => (pricedWithinLimits.has(context) ? {} : QUERY_LIMITS),
    complexityError: (kind, result) => {
      const limit = kind === 'Depth' ? 'depth' : kind === 'Breadth' ? 'breadth' : 'complexity';
      const hint =
        limit === 'depth'
          ? 'Nest fewer levels; fetch deeper data with a second query.'
          : limit === 'breadth'
            ? 'Select fewer fields or aliases in one query.'
            : 'Ask for smaller pages (`first`) or fewer nested lists.';
      return new GraphQLError(`Query ${limit} is ${result[limit]}, over the limit of ${QUERY_LIMITS[limit]}. ${hint}`, {
        extensions: { code: 'QUERY_TOO_COMPLEX', limit },
      });
    },
  },
});

const isoDate = /^\d{4}-\d{2}-\d{2}$/;

function parseDateTime(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new GraphQLError('DateTime must be an ISO 8601 string such as 2026-11-25T09:30:00Z.');
  }
  return date;
}

function parseDate(value: unknown): string {
  if (typeof value !== 'string' || !isoDate.test(value) || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError('Date must be a calendar date written YYYY-MM-DD, such as 2027-03-31.');
  }
  return value;
}

/** A literal written in the document: only a string can be one. Takes the node alone, as graphql-jit compiles it. */
function stringLiteral(node: ValueNode): unknown {
  return node.kind === Kind.STRING ? node.value : undefined;
}

builder.scalarType('DateTime', {
  description: 'A moment in time, as an ISO 8601 string in UTC (2026-11-25T09:30:00.000Z).',
  serialize: (value) => value.toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (node) => parseDateTime(stringLiteral(node)),
});

builder.scalarType('Date', {
  description: 'A calendar date as YYYY-MM-DD.',
  serialize: (value) => value,
  parseValue: parseDate,
  parseLiteral: (node) => parseDate(stringLiteral(node)),
});

builder.queryType({});
builder.mutationType({});
