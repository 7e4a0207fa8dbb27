import { type ExecutionResult, GraphQLError, getOperationAST, getVariableValues } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Clearer errors for bad variables. graphql-jit coerces variables itself and, for a bad value inside an input
 * object or list, names the wrong variable and drops the scalar's own explanation ("Variable "$occurredAt" got
 * invalid value…; Expected type DateTime."). When it refuses a request's variables, graphql-js coerces them again
 * for its message, which says where the value is and what a good one looks like: `Variable "$rows" got invalid
 * value "yesterday" at "rows[0].occurredAt"; DateTime must be an ISO 8601 string such as 2026-11-25T09:30:00Z.`
 * Only then: a batch of thousands of rows that is fine is coerced once.
 */
export function useVariableCoercionErrors(): Plugin {
  return {
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          if (!isRefusedVariables(result)) return;
          const operation = getOperationAST(args.document, args.operationName);
          if (!operation?.variableDefinitions?.length) return;
          const coerced = getVariableValues(args.schema, operation.variableDefinitions, args.variableValues ?? {}, { maxErrors: 20 });
          if (!coerced.errors) return;
          setResult({
            errors: coerced.errors.map(
              (error) => new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } }),
            ),
          });
        },
      };
    },
  };
}

/** A result with errors and no data, every error about a variable's value: execution never started. */
function isRefusedVariables(result: unknown): result is ExecutionResult {
  if (typeof result !== 'object' || result === null || !('errors' in result)) return false;
  const { errors, data } = result as ExecutionResult;
  return data === undefined && errors !== undefined && errors.length > 0 && errors.every((error) => error.message.startsWith('Variable "$'));
}
