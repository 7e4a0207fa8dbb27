import type { KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import type { CsmSentiment, Sentiment } from '../../db/schema.ts';
import { sentiments } from '../../db/schema.ts';
import { championLeftReason } from '../../domain/people/relationship.ts';
import { MAX_SENTIMENT_NOTE } from '../../domain/people/sentiment.ts';
import type { AccountPeople, KeyPeople } from '../../domain/people/summary.ts';
import { CallbackIds, FieldIds, INPUT_ACTION } from '../ids.ts';
import { contextBlock, escapeMrkdwn, plainText, sectionBlock, slackDate, truncate } from './format.ts';

// The people on an account card, and the sentiment form. Pure: data in, blocks out.

const sentimentWords: Record<Sentiment, string> = { positive: 'Positive', neutral: 'Neutral', negative: 'Negative' };
const sentimentEmoji: Record<Sentiment, string> = { positive: ':large_green_circle:', neutral: ':white_circle:', negative: ':red_circle:' };

/** The CSM's latest read and when it was set, for the field beside the score. */
export function sentimentText(sentiment: CsmSentiment | null): string {
  if (!sentiment) return '_not set_';
  const note = sentiment.note ? `\n“${escapeMrkdwn(truncate(sentiment.note, 200))}”` : '';
  return `${sentimentEmoji[sentiment.sentiment]} ${sentimentWords[sentiment.sentiment]} · ${slackDate(sentiment.recordedAt)}${note}`;
}

export function sentimentPlain(sentiment: CsmSentiment | null): string {
  return sentiment ? `${sentimentWords[sentiment.sentiment].toLowerCase()} (set ${sentiment.recordedAt.toISOString().slice(0, 10)})` : 'not set';
}

function names(people: KeyPeople): string {
  const shown = people.named.map((person) => escapeMrkdwn(truncate(person.name, 60)));
  const more = people.total - people.named.length;
  return `${shown.join(', ')}${more > 0 ? ` +${more} more` : ''}`;
}

/**
 * One context line: the champions and sponsors still there, and each champion who left lately, so an account with
 * hundreds of contacts still takes one block of a few hundred characters (at most 3 names a role, each cut to 60).
 * None of them: no block.
 */
export function peopleLine(people: AccountPeople, now: Date): KnownBlock | undefined {
  const parts: string[] = [];
  if (people.champions.total > 0) parts.push(`*Champion${people.champions.total === 1 ? '' : 's'}* ${names(people.champions)}`);
  if (people.sponsors.total > 0) parts.push(`*Sponsor${people.sponsors.total === 1 ? '' : 's'}* ${names(people.sponsors)}`);
  const departures = people.departures.slice(0, 3).map((departure) => `:warning: ${escapeMrkdwn(championLeftReason({ ...departure, name: truncate(departure.name, 60) }, now))}`);
  if (people.departures.length > 3) departures.push(`+${people.departures.length - 3} more champions left lately`);
  parts.push(...departures);
  if (parts.length === 0) return undefined;
  return contextBlock(parts.join(' · '));
}

function sentimentOption(sentiment: Sentiment): PlainTextOption {
  return { text: plainText(sentimentWords[sentiment], 75), value: sentiment };
}

/** The "Set sentiment" form: positive, neutral or negative, and a note. `privateMetadata` says where the card is. */
export function sentimentModal(input: { accountName: string; current: CsmSentiment | null; privateMetadata: string }): ModalView {
  const initial = input.current ? sentimentOption(input.current.sentiment) : undefined;
  return {
    type: 'modal',
    callback_id: CallbackIds.setSentiment,
    // Modal title and buttons: 24 characters at most.
    title: plainText('Set sentiment', 24),
    submit: plainText('Save', 24),
    close: plainText('Cancel', 24),
    private_metadata: input.privateMetadata,
    blocks: [
      sectionBlock(
        `Your read of *${escapeMrkdwn(input.accountName)}*, shown beside its health score and kept in its history. It never changes the score.${
          input.current ? `\nNow: ${sentimentText(input.current)}` : ''
        }`,
      ),
      {
        type: 'input',
        block_id: FieldIds.sentiment,
        label: plainText('Sentiment', 2000),
        element: { type: 'radio_buttons', action_id: INPUT_ACTION, options: sentiments.map(sentimentOption), ...(initial ? { initial_option: initial } : {}) },
      },
      {
        type: 'input',
        block_id: FieldIds.note,
        optional: true,
        label: plainText('Note (optional)', 2000),
        element: {
          type: 'plain_text_input',
          action_id: INPUT_ACTION,
          multiline: true,
          max_length: MAX_SENTIMENT_NOTE,
          placeholder: plainText('e.g. budget freeze announced; champion unsure about renewal', 150),
        },
      },
    ],
  };
}
