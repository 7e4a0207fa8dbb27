import type { z } from 'zod';
import { InvalidInputError } from './errors.ts';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether an id can be a row id at all: PostgreSQL fails with a type error on a uuid column given anything else. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** A zod path as clients write it: `rows[3].activeUsers`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((joined, part) => {
    if (typeof part === 'number') return `${joined}[${part}]`;
    return joined === '' ? String(part) : `${joined}.${String(part)}`;
  }, '');
}

/**
 * Where the first NUL character (U+0000) is in a JSON-like value: the path of the string (or object key) holding
 * it, or undefined when there is none. PostgreSQL cannot store NUL in text, so such input can only fail later, as an
 * internal error. Walks with its own stack, so a deeply nested body cannot overflow the call stack.
 */
export function findNulCharacter(value: unknown): PropertyKey[] | undefined {
  // Nearly every input holds no NUL: a quick look settles that, and only an input that may hold one is walked for
  // its path (a bulk load checks every row, so this runs a hundred thousand times a call).
  if (!mayHoldNul(value, 0)) return undefined;
  // Each entry knows its parent, so a path is built only for the one string that holds a NUL.
  interface Entry {
    value: unknown;
    key: PropertyKey | undefined;
    parent: Entry | undefined;
  }
  const pathOf = (entry: Entry, last?: PropertyKey): PropertyKey[] => {
    const path: PropertyKey[] = last === undefined ? [] : [last];
    for (let at: Entry | undefined = entry; at?.key !== undefined; at = at.parent) path.unshift(at.key);
    return path;
  };
  const pending: Entry[] = [{ value, key: undefined, parent: undefined }];
  for (let entry = pending.pop(); entry !== undefined; entry = pending.pop()) {
    const current = entry.value;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return pathOf(entry);
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1) pending.push({ value: current[index], key: index, parent: entry });
    } else if (typeof current === 'object' && current !== null) {
      const keys = Object.keys(current);
      for (let index = keys.length - 1; index >= 0; index -= 1) {
        const key = keys[index] ?? '';
        if (key.includes('\u0000')) return pathOf(entry, key);
        pending.push({ value: Reflect.get(current, key), key, parent: entry });
      }
    }
  }
  return undefined;
}

/** Nesting the quick look follows; anything deeper is left to the walk, which keeps its own stack. */
const QUICK_LOOK_DEPTH = 8;

/** False when the value surely holds no NUL character; true when it may (or is too deep to look at quickly). */
function mayHoldNul(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= QUICK_LOOK_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (mayHoldNul(item, depth + 1)) return true;
    return false;
  }
  for (const key of Object.keys(value)) {
    if (key.includes('\u0000') || mayHoldNul(Reflect.get(value, key), depth + 1)) return true;
  }
  return false;
}

/** What to tell a client whose input holds a NUL character, `field` naming where (empty: the whole input). */
export function nulCharacterMessage(field: string): string {
  return `${field || 'The input'} contains a NUL character (\\u0000), which Lifeline cannot store. Remove it (often a stray byte from a copy-paste or an export) and send the request again.`;
}

/** Refuses free text that PostgreSQL cannot store, for inputs that take no zod schema (a search, a reason). */
export function requireStorableText(value: string, field: string): string {
  if (value.includes('\u0000')) throw new InvalidInputError(nulCharacterMessage(field), field);
  return value;
}

/**
 * Parses domain input with zod; the first problem becomes an InvalidInputError naming the offending field,
 * so API clients get `extensions.field` and a message that says what to send instead.
 */
export function parseInput<Schema extends z.ZodType>(schema: Schema, input: unknown, prefix = ''): z.output<Schema> {
  const nul = findNulCharacter(input);
  if (nul !== undefined) {
    const path = fieldPath([...(prefix ? [prefix] : []), ...nul]);
    throw new InvalidInputError(nulCharacterMessage(path), path || undefined);
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = fieldPath([...(prefix ? [prefix] : []), ...(issue?.path ?? [])]);
  const message = issue?.message ?? 'Invalid input.';
  throw new InvalidInputError(path ? `${path}: ${message}` : message, path || undefined);
}

/** `text` for a LIKE pattern, matched literally: a search's %, _ and \ are characters, not wildcards. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
