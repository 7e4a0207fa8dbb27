// What a query selects under the field being resolved, so a resolver can ask domain/ to read only that.
import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';

/** Selected fields by name (not alias), each with what is selected under it; fragments are merged in. */
export type Selected = Map<string, Selected>;

/**
 * The fields selected under the field being resolved. @skip and @include are not evaluated: a field they leave out
 * still counts as selected, so a resolver may read more than is shown, never less.
 */
export function selectedFields(info: GraphQLResolveInfo): Selected {
  const selected: Selected = new Map();
  for (const node of info.fieldNodes) collect(node.selectionSet, info, selected);
  return selected;
}

function collect(set: SelectionSetNode | undefined, info: GraphQLResolveInfo, into: Selected): void {
  for (const selection of set?.selections ?? []) {
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      const under = into.get(name) ?? new Map();
      into.set(name, under);
      collect(selection.selectionSet, info, under);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collect(selection.selectionSet, info, into);
    } else {
      collect(info.fragments[selection.name.value]?.selectionSet, info, into);
    }
  }
}

/** What is selected at a path under the resolved field; empty when nothing is. */
export function selectedAt(selected: Selected, ...path: string[]): Selected {
  let at = selected;
  for (const name of path) at = at.get(name) ?? new Map();
  return at;
}
