import type { types } from '@slack/bolt';
import { describe, expect, it } from 'vitest';
import { validateBlocks, validateView } from './support/block-kit.ts';

function section(text: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

describe('validateBlocks / validateView', () => {
  const button = (text: string, extra: Record<string, unknown> = {}) => ({
    type: 'button',
    text: { type: 'plain_text', text },
    action_id: `a-${text.length}`,
    ...extra,
  });
  const option = (i: number) => ({ text: { type: 'plain_text', text: `Option ${i}` }, value: `v${i}` });

  it('accepts a well-formed message', () => {
    expect(
      validateBlocks(
        [
          { type: 'header', text: { type: 'plain_text', text: 'Acme' } },
          { type: 'section', fields: [{ type: 'mrkdwn', text: '*ARR*' }], accessory: button('Open') },
          { type: 'actions', elements: [button('Yes'), { type: 'static_select', action_id: 's', options: [option(1)] }] },
          { type: 'context', elements: [{ type: 'mrkdwn', text: 'updated now' }] },
        ],
        'message',
      ),
    ).toEqual([]);
  });

  it('pins the limits that matter for Lifeline builders', () => {
    expect(validateBlocks([section('')], 'message')).toEqual(['must be more than 0 characters [json-pointer:/blocks/0/text/text]']);
    expect(validateBlocks([{ type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) }], 'message')).toEqual([
      'no more than 10 items allowed [json-pointer:/blocks/0/fields]',
    ]);
    expect(validateBlocks([{ type: 'actions', elements: [button('b'.repeat(76))] }], 'message')).toEqual([
      'must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]',
    ]);
    expect(validateBlocks([{ type: 'actions', elements: [button('ok', { value: 'v'.repeat(2001) })] }], 'message')).toEqual([
      'must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]',
    ]);
    expect(
      validateBlocks([{ type: 'section', text: { type: 'mrkdwn', text: 'pick' }, accessory: { type: 'static_select', options: Array.from({ length: 101 }, (_, i) => option(i)) } }], 'message'),
    ).toEqual(['no more than 100 items allowed [json-pointer:/blocks/0/accessory/options]']);
    expect(validateBlocks([{ type: 'actions', elements: [{ type: 'overflow', options: Array.from({ length: 6 }, (_, i) => option(i)) }] }], 'message')).toEqual([
      'no more than 5 items allowed [json-pointer:/blocks/0/elements/0/options]',
    ]);
    expect(validateBlocks([section('a'), { ...section('b'), block_id: 'x' }, { ...section('c'), block_id: 'x' }], 'message')).toEqual([
      'duplicate block_id: x [json-pointer:/blocks/2/block_id]',
    ]);
    expect(validateBlocks(Array.from({ length: 100 }, () => ({ type: 'divider' })), 'home')).toEqual([]);
    expect(validateBlocks(Array.from({ length: 101 }, () => ({ type: 'divider' })), 'modal')).toEqual([
      'no more than 100 items allowed [json-pointer:/blocks]',
    ]);
  });

  it('checks modal chrome and metadata', () => {
    const input = { type: 'input', label: { type: 'plain_text', text: 'Note' }, element: { type: 'plain_text_input', action_id: 'note' } };
    expect(
      validateView({
        type: 'modal',
        title: { type: 'plain_text', text: 'Touchpoint' },
        close: { type: 'plain_text', text: 'c'.repeat(25) },
        private_metadata: 'm'.repeat(3001),
        callback_id: 'c'.repeat(256),
        blocks: [input],
      }),
    ).toEqual([
      'must be less than 25 characters [json-pointer:/view/close/text]',
      'must be less than 3001 characters [json-pointer:/view/private_metadata]',
      'must be less than 256 characters [json-pointer:/view/callback_id]',
      'must provide submit when the view contains input blocks [json-pointer:/view/submit]',
    ]);
  });
});
