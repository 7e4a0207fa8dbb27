import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import type { ApiContext } from './context.ts';

export const QUERY_LIMITS = { depth: 8, breadth: 200, complexity: 5000 } as const;

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
    limit: { ...QUERY_LIMITS },
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
