import {
  type ASTNode,
  type ArgumentNode,
  type DirectiveNode,
  type DocumentNode,
  type ExecutionResult,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValueNode,
  getOperationAST,
  getVariableValues,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { fieldPath, findNulCharacter, nulCharacterMessage } from '../domain/validation.ts';

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

/** Where a NUL character was found: the argument path as clients write it, and the document node to point at. */
interface NulCharacterFound {
  field: string;
  node: ASTNode;
}

/**
 * Refuses a NUL character (U+0000) in any input, before anything runs: PostgreSQL cannot store it in text (nor
 * compare with it), so it would otherwise surface as a masked internal error. Every argument is checked, of every
 * field and directive, through fragments, whether its value is written in the document or passed as a variable, at
 * any depth of input objects and lists; the error names the argument path (`accounts[0].name`) in
 * `extensions.field`. Variables no argument uses, and variable defaults, are checked too, named `$variable…`.
 */
export function useNulCharacterRefusal(): Plugin {
  // An operation without variables has all its input in the document, which Yoga's parse cache hands over as the
  // same object each time it is sent: the dashboard's page query is walked once, not on every request.
  const clean = new WeakMap<DocumentNode, Set<string | undefined>>();
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operationName = args.operationName ?? undefined;
      if (clean.get(args.document)?.has(operationName)) return;
      const found = findNulInOperation(args.document, operationName, args.variableValues ?? {});
      if (!found) {
        if (!getOperationAST(args.document, operationName)?.variableDefinitions?.length) {
          const names = clean.get(args.document) ?? new Set();
          names.add(operationName);
          clean.set(args.document, names);
        }
        return;
      }
      setResultAndStopExecution({
        errors: [new GraphQLError(nulCharacterMessage(found.field), { nodes: found.node, extensions: { code: 'BAD_USER_INPUT', field: found.field } })],
      });
    },
  };
}

function findNulInOperation(document: DocumentNode, operationName: string | undefined, variables: Readonly<Record<string, unknown>>): NulCharacterFound | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const visitedFragments = new Set<string>();

  const inValue = (value: ValueNode, path: PropertyKey[]): NulCharacterFound | undefined => {
    switch (value.kind) {
      case Kind.STRING:
        return value.value.includes('\u0000') ? { field: fieldPath(path), node: value } : undefined;
      case Kind.LIST:
        for (const [index, item] of value.values.entries()) {
          const found = inValue(item, [...path, index]);
          if (found) return found;
        }
        return undefined;
      case Kind.OBJECT:
        for (const member of value.fields) {
          const found = inValue(member.value, [...path, member.name.value]);
          if (found) return found;
        }
        return undefined;
      case Kind.VARIABLE: {
        const inner = findNulCharacter(variables[value.name.value]);
        return inner ? { field: fieldPath([...path, ...inner]), node: value } : undefined;
      }
      default:
        return undefined;
    }
  };
  const inArguments = (node: { arguments?: readonly ArgumentNode[] | undefined; directives?: readonly DirectiveNode[] | undefined }) => {
    for (const argument of [...(node.arguments ?? []), ...(node.directives ?? []).flatMap((directive) => directive.arguments ?? [])]) {
      const found = inValue(argument.value, [argument.name.value]);
      if (found) return found;
    }
    return undefined;
  };
  const inSelections = (selectionSet: SelectionSetNode | undefined): NulCharacterFound | undefined => {
    for (const selection of selectionSet?.selections ?? []) {
      let found = inArguments(selection);
      if (!found && selection.kind === Kind.FRAGMENT_SPREAD && !visitedFragments.has(selection.name.value)) {
        visitedFragments.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        found = fragment ? (inArguments(fragment) ?? inSelections(fragment.selectionSet)) : undefined;
      } else if (!found && selection.kind !== Kind.FRAGMENT_SPREAD) {
        found = inSelections(selection.selectionSet);
      }
      if (found) return found;
    }
    return undefined;
  };

  const found = inArguments(operation) ?? inSelections(operation.selectionSet);
  if (found) return found;
  for (const definition of operation.variableDefinitions ?? []) {
    const name = `$${definition.variable.name.value}`;
    const given = findNulCharacter(variables[definition.variable.name.value]);
    if (given) return { field: fieldPath([name, ...given]), node: definition };
    const byDefault = definition.defaultValue ? inValue(definition.defaultValue, [name]) : undefined;
    if (byDefault) return byDefault;
  }
  return undefined;
}
