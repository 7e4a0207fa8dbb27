/**
 * Reading Slack payloads as data. Bolt's types describe what Slack should send; a signed request can still carry
 * anything, so a field a listener branches on is read with these, never trusted to be there.
 */

/** `value[key]` when `value` is an object; undefined otherwise. */
export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
}

/** The value of the option chosen in a select or an overflow menu, when the payload names one. */
export function selectedOptionValue(action: unknown): string | undefined {
  const value = field(field(action, 'selected_option'), 'value');
  return typeof value === 'string' ? value : undefined;
}
