import type { z } from 'zod';
import { InvalidInputError } from './errors.ts';

/** A zod path as clients write it: `rows[3].activeUsers`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((joined, part) => {
    if (typeof part === 'number') return `${joined}[${part}]`;
    return joined === '' ? String(part) : `${joined}.${String(part)}`;
  }, '');
}

/**
 * Parses domain input with zod; the first problem becomes an InvalidInputError naming the offending field,
 * so API clients get `extensions.field` and a message that says what to send instead.
 */
export function parseInput<Schema extends z.ZodType>(schema: Schema, input: unknown, prefix = ''): z.output<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = fieldPath([...(prefix ? [prefix] : []), ...(issue?.path ?? [])]);
  const message = issue?.message ?? 'Invalid input.';
  throw new InvalidInputError(path ? `${path}: ${message}` : message, path || undefined);
}
