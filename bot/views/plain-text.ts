/**
 * Renders Block Kit as readable console text, for local mode where there is no Slack to show it.
 * Accepts unknown input because it reads what the Web API client sent, after JSON round-tripping.
 */
export function blocksToPlainText(blocks: unknown): string {
  if (!Array.isArray(blocks)) return '';
  return blocks.map(blockToText).filter((line) => line !== '').join('\n');
}

function field(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  const found: unknown = Reflect.get(value, key);
  return found;
}

function textOf(value: unknown): string {
  const text = field(value, 'text');
  return typeof text === 'string' ? text.replace(/<@(\w+)>/g, '@$1').replace(/<!date\^\d+\^[^|]*\|([^>]+)>/g, '$1') : '';
}

function blockToText(block: unknown): string {
  switch (field(block, 'type')) {
    case 'header':
      return `== ${textOf(field(block, 'text'))} ==`;
    case 'section': {
      const fields = field(block, 'fields');
      const parts = [textOf(field(block, 'text')), ...(Array.isArray(fields) ? fields.map((item) => textOf(item).replace(/\n/g, ': ')) : [])];
      const accessory = field(block, 'accessory');
      if (accessory) parts.push(`[${textOf(field(accessory, 'text')) || String(field(accessory, 'type'))}]`);
      return parts.filter((part) => part !== '').join('\n');
    }
    case 'context': {
      const elements = field(block, 'elements');
      return Array.isArray(elements) ? `  ${elements.map(textOf).join(' ')}` : '';
    }
    case 'actions': {
      const elements = field(block, 'elements');
      if (!Array.isArray(elements)) return '';
      return elements
        .map((element) => {
          const label = textOf(field(element, 'text')) || textOf(field(element, 'placeholder'));
          const initial = textOf(field(field(element, 'initial_option'), 'text'));
          return `[${label}${initial ? `: ${initial}` : ''}]`;
        })
        .join(' ');
    }
    case 'divider':
      return '────────';
    default:
      return '';
  }
}
