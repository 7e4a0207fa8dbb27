import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import type { z } from 'zod';
import { InvalidInputError } from '../domain/errors.ts';
import { INPUT_ACTION } from './ids.ts';
import { field, selectedOptionValue } from './payload.ts';

/** What reading a submitted modal starts from: its private metadata and its inputs. */
export type ViewArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

export function decodeMetadata<T>(schema: z.ZodType<T>, raw: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new InvalidInputError('This form is out of date. Close it and start again from the card.');
  return result.data;
}

/**
 * The value a person typed or chose in an input block, by the block's id: text, a select's option, a date picker's
 * day (YYYY-MM-DD) or a user select's Slack user id.
 */
export function inputValue(view: ViewSubmitAction['view'], blockId: string): string | undefined {
  const element = field(field(field(view.state, 'values'), blockId), INPUT_ACTION);
  for (const read of [field(element, 'value'), selectedOptionValue(element), field(element, 'selected_date'), field(element, 'selected_user')]) {
    if (typeof read === 'string') return read;
  }
  return undefined;
}

/**
 * A money input typed in dollars (e.g. 14400 or 14400.50), as whole cents; empty is null. Anything else is refused on
 * the field with `hint`, which says what to write.
 */
export function dollarsInputToCents(value: string | undefined, fieldId: string, hint: string): number | null {
  if (value === undefined || value.trim() === '') return null;
  const dollars = Number(value);
  if (!Number.isFinite(dollars)) throw new InvalidInputError(hint, fieldId);
  return Math.round(dollars * 100);
}
