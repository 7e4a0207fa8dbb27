import type { ContextBlock, SectionBlock } from '@slack/types';
import { contextBlock, sectionBlock, truncate } from './format.ts';

/** Slack's limit on a section's text (SLACK-NOTES.md, Block Kit limits). */
export const SECTION_TEXT_MAX = 3000;

/**
 * Slack refuses a message whose blocks hold more than about 12-13k characters of text in all
 * (`msg_blocks_too_long`); messages keep their lists under this, leaving room for a header and a footer.
 */
export const MESSAGE_LIST_TEXT_MAX = 10_000;

// One line never fills a section on its own, so a long name cannot crowd out every other line.
const LINE_MAX = 1000;

export interface ListOptions {
  /** Blocks the list may use, the "…and N more" line included. */
  maxBlocks: number;
  /** Characters of text the list may use in all (a message's total budget); unlimited when unset. */
  maxChars?: number;
  /** The last line when not everything fits: how many were left out, and where to see them all. */
  more: (left: number) => string;
}

export interface PackedList {
  blocks: (SectionBlock | ContextBlock)[];
  /** How many lines are shown; the rest are counted in the last block. */
  shown: number;
}

function pack(lines: string[], maxSections: number, maxChars: number): { sections: string[]; shown: number } {
  const sections: string[] = [];
  let used = 0;
  let shown = 0;
  for (const raw of lines) {
    const line = truncate(raw, LINE_MAX);
    const last = sections.length - 1;
    const current = sections[last];
    if (current !== undefined && current.length + 1 + line.length <= SECTION_TEXT_MAX) {
      if (used + 1 + line.length > maxChars) break;
      sections[last] = `${current}\n${line}`;
      used += 1 + line.length;
    } else {
      if (sections.length >= maxSections || used + line.length > maxChars) break;
      sections.push(line);
      used += line.length;
    }
    shown += 1;
  }
  return { sections, shown };
}

/**
 * Lines packed into as few sections as fit Slack's 3000 characters each, within the list's block and character
 * budget. Nothing is cut silently: a line is either shown whole (up to 1000 characters) or counted in a closing
 * "…and N more" line that says where to see them all.
 */
export function packedList(lines: string[], options: ListOptions): PackedList {
  const maxChars = options.maxChars ?? Number.POSITIVE_INFINITY;
  const all = pack(lines, options.maxBlocks, maxChars);
  if (all.shown === lines.length) return { blocks: all.sections.map(sectionBlock), shown: all.shown };
  // Room for the closing line: one block, and its characters out of the budget.
  const moreText = options.more(lines.length);
  const some = pack(lines, Math.max(options.maxBlocks - 1, 0), maxChars - moreText.length - 1);
  return { blocks: [...some.sections.map(sectionBlock), contextBlock(options.more(lines.length - some.shown))], shown: some.shown };
}
