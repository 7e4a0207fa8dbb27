import { GraphQLError, getOperationAST, getVariableValues } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Checks a request's variables with graphql-js before the compiled query (graphql-jit) runs. graphql-jit coerces
 * variables itself and, for a bad value inside an input object or list, names the wrong variable and drops the
 * scalar's own explanation ("Variable "$occurredAt" got invalid value…; Expected type DateTime."). graphql-js says
 * where the value is and what a good one looks like: `Variable "$rows" got invalid value "yesterday" at
 * "rows[0].occurredAt"; DateTime must be an ISO 8601 string such as 2026-11-25T09:30:00Z.`
 */
export function useVariableCoercionErrors(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (!operation?.variableDefinitions?.length) return;
      const coerced = getVariableValues(args.schema, operation.variableDefinitions, args.variableValues ?? {}, { maxErrors: 20 });
      if (!coerced.errors) return;
      setResultAndStopExecution({
        errors: coerced.errors.map(
          (error) => new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } }),
        ),
      });
    },
  };
}
