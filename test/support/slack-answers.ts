// Reading what Lifeline sent to Slack as the fake recorded it: a field of a payload, a message's text, and the
// account card's block id, which carries the account and the version the card shows.
import type { RecordedCall } from './fake-slack.ts';

export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
}

/** A message's plain-text fallback; empty when it has none. */
export function textOf(call: RecordedCall | undefined): string {
  const text = field(call?.body, 'text');
  return typeof text === 'string' ? text : '';
}

/** The account card's actions block id in blocks as Slack received them: `account_card:<account id>:<version>`. */
export function cardBlockIdIn(blocks: unknown): string {
  const actions = Array.isArray(blocks) ? blocks.find((block) => field(block, 'type') === 'actions' && String(field(block, 'block_id')).startsWith('account_card:')) : undefined;
  const blockId = field(actions, 'block_id');
  if (typeof blockId !== 'string') throw new Error(`no card in ${JSON.stringify(blocks)}`);
  return blockId;
}
