// Slack's Block Kit limits (blocks per surface, text lengths, option counts, element types per block), checked
// the way Slack checks them and reported in Slack's own format: the fake Slack refuses what production would,
// and view tests assert on the same list.

export type BlockSurface = 'message' | 'modal' | 'home';

const MAX_BLOCKS: Record<BlockSurface, number> = { message: 50, modal: 100, home: 100 };

const SELECT_ELEMENTS = [
  'static_select',
  'multi_static_select',
  'external_select',
  'multi_external_select',
  'users_select',
  'multi_users_select',
  'conversations_select',
  'multi_conversations_select',
  'channels_select',
  'multi_channels_select',
];
const INTERACTIVE_ELEMENTS = new Set([
  ...SELECT_ELEMENTS,
  'button',
  'checkboxes',
  'radio_buttons',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'overflow',
  'workflow_button',
  'feedback_buttons',
  'icon_button',
]);
const ACCESSORY_ELEMENTS = new Set([...INTERACTIVE_ELEMENTS, 'image']);
const INPUT_ELEMENTS = new Set([
  ...SELECT_ELEMENTS,
  'checkboxes',
  'radio_buttons',
  'datepicker',
  'timepicker',
  'datetimepicker',
  'plain_text_input',
  'email_text_input',
  'url_text_input',
  'number_input',
  'rich_text_input',
  'file_input',
]);
// Block types Slack accepts that Lifeline does not build; they pass without deeper checks.
const OPAQUE_BLOCKS = new Set([
  'rich_text',
  'file',
  'video',
  'table',
  'alert',
  'card',
  'carousel',
  'container',
  'context_actions',
  'data_table',
  'task_card',
  'plan',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Violations {
  readonly list: string[] = [];
  add(message: string, pointer: string): void {
    // Slack's own format, so assertions written against the fake read like production logs.
    this.list.push(`${message} [json-pointer:${pointer}]`);
  }
}

function checkString(v: Violations, value: unknown, pointer: string, min: number, max: number): void {
  if (typeof value !== 'string') {
    v.add('must provide a string', pointer);
    return;
  }
  // String length counts UTF-16 units, which errs on the strict side for emoji.
  if (value.length < min) v.add(`must be more than ${min - 1} characters`, pointer);
  else if (value.length > max) v.add(`must be less than ${max + 1} characters`, pointer);
}

function checkOptionalString(v: Violations, value: unknown, pointer: string, max: number): void {
  if (value !== undefined) checkString(v, value, pointer, 0, max);
}

function checkArray(v: Violations, value: unknown, pointer: string, min: number, max: number): unknown[] | undefined {
  if (!Array.isArray(value)) {
    v.add('must provide an array', pointer);
    return undefined;
  }
  if (value.length < min) v.add(`must provide at least ${min} items`, pointer);
  if (value.length > max) v.add(`no more than ${max} items allowed`, pointer);
  return value;
}

interface TextRule {
  max: number;
  min?: number;
  plainOnly?: boolean;
}

function checkText(v: Violations, value: unknown, pointer: string, rule: TextRule): void {
  if (!isRecord(value)) {
    v.add('must provide an object', pointer);
    return;
  }
  const allowed = value.type === 'plain_text' || (!rule.plainOnly && value.type === 'mrkdwn');
  if (!allowed) v.add('must be a valid enum value', `${pointer}/type`);
  checkString(v, value.text, `${pointer}/text`, rule.min ?? 1, rule.max);
}

function checkOptionalText(v: Violations, value: unknown, pointer: string, rule: TextRule): void {
  if (value !== undefined) checkText(v, value, pointer, rule);
}

function checkConfirm(v: Violations, value: unknown, pointer: string): void {
  if (value === undefined) return;
  if (!isRecord(value)) {
    v.add('must provide an object', pointer);
    return;
  }
  checkOptionalText(v, value.title, `${pointer}/title`, { max: 100, plainOnly: true });
  checkText(v, value.text, `${pointer}/text`, { max: 300 });
  checkOptionalText(v, value.confirm, `${pointer}/confirm`, { max: 30, plainOnly: true });
  checkOptionalText(v, value.deny, `${pointer}/deny`, { max: 30, plainOnly: true });
}

function checkOption(v: Violations, option: unknown, pointer: string, plainOnly: boolean, allowUrl: boolean): void {
  if (!isRecord(option)) {
    v.add('must provide an object', pointer);
    return;
  }
  checkText(v, option.text, `${pointer}/text`, { max: 75, plainOnly });
  checkString(v, option.value, `${pointer}/value`, 0, 150);
  checkOptionalText(v, option.description, `${pointer}/description`, { max: 75, plainOnly });
  if (allowUrl) checkOptionalString(v, option.url, `${pointer}/url`, 3000);
}

function checkOptions(
  v: Violations,
  value: unknown,
  pointer: string,
  limits: { min: number; max: number; plainOnly: boolean; allowUrl?: boolean },
): void {
  const options = checkArray(v, value, pointer, limits.min, limits.max);
  options?.forEach((option, i) => checkOption(v, option, `${pointer}/${i}`, limits.plainOnly, limits.allowUrl ?? false));
}

function checkSelectOptions(v: Violations, el: Record<string, unknown>, pointer: string): void {
  if (el.option_groups !== undefined) {
    const groups = checkArray(v, el.option_groups, `${pointer}/option_groups`, 1, 100);
    groups?.forEach((group, g) => {
      const groupPointer = `${pointer}/option_groups/${g}`;
      if (!isRecord(group)) {
        v.add('must provide an object', groupPointer);
        return;
      }
      checkText(v, group.label, `${groupPointer}/label`, { max: 75, plainOnly: true });
      checkOptions(v, group.options, `${groupPointer}/options`, { min: 1, max: 100, plainOnly: true });
    });
    return;
  }
  if (el.options === undefined) {
    v.add('missing required field: options', pointer);
    return;
  }
  checkOptions(v, el.options, `${pointer}/options`, { min: 1, max: 100, plainOnly: true });
}

function checkElement(v: Violations, el: unknown, pointer: string, allowed: ReadonlySet<string>): void {
  if (!isRecord(el)) {
    v.add('must provide an object', pointer);
    return;
  }
  const type = el.type;
  if (typeof type !== 'string' || !allowed.has(type)) {
    v.add(`unsupported element type: ${String(type)}`, `${pointer}/type`);
    return;
  }
  checkOptionalString(v, el.action_id, `${pointer}/action_id`, 255);
  checkConfirm(v, el.confirm, `${pointer}/confirm`);
  checkOptionalText(v, el.placeholder, `${pointer}/placeholder`, { max: 150, plainOnly: true });

  switch (type) {
    case 'button':
      checkText(v, el.text, `${pointer}/text`, { max: 75, plainOnly: true });
      checkOptionalString(v, el.value, `${pointer}/value`, 2000);
      checkOptionalString(v, el.url, `${pointer}/url`, 3000);
      if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
        v.add('must be a valid enum value', `${pointer}/style`);
      }
      break;
    case 'workflow_button':
      checkText(v, el.text, `${pointer}/text`, { max: 75, plainOnly: true });
      break;
    case 'static_select':
    case 'multi_static_select':
      checkSelectOptions(v, el, pointer);
      break;
    case 'overflow':
      checkOptions(v, el.options, `${pointer}/options`, { min: 1, max: 5, plainOnly: true, allowUrl: true });
      break;
    case 'checkboxes':
    case 'radio_buttons':
      checkOptions(v, el.options, `${pointer}/options`, { min: 1, max: 10, plainOnly: false });
      break;
    case 'plain_text_input':
      checkOptionalString(v, el.initial_value, `${pointer}/initial_value`, 3000);
      break;
    case 'image':
      if (el.slack_file === undefined) checkString(v, el.image_url, `${pointer}/image_url`, 1, 3000);
      checkString(v, el.alt_text, `${pointer}/alt_text`, 0, 2000);
      break;
    default:
      break;
  }
}

function checkBlock(
  v: Violations,
  block: unknown,
  pointer: string,
  blockIds: Map<string, string>,
): void {
  if (!isRecord(block)) {
    v.add('must provide an object', pointer);
    return;
  }
  if (block.block_id !== undefined) {
    checkString(v, block.block_id, `${pointer}/block_id`, 0, 255);
    if (typeof block.block_id === 'string') {
      if (blockIds.has(block.block_id)) v.add(`duplicate block_id: ${block.block_id}`, `${pointer}/block_id`);
      blockIds.set(block.block_id, pointer);
    }
  }

  const type = block.type;
  switch (type) {
    case 'section': {
      if (block.text === undefined && block.fields === undefined) {
        v.add('missing required field: text', pointer);
      }
      checkOptionalText(v, block.text, `${pointer}/text`, { max: 3000 });
      if (block.fields !== undefined) {
        const fields = checkArray(v, block.fields, `${pointer}/fields`, 1, 10);
        fields?.forEach((field, i) => checkText(v, field, `${pointer}/fields/${i}`, { max: 2000 }));
      }
      if (block.accessory !== undefined) checkElement(v, block.accessory, `${pointer}/accessory`, ACCESSORY_ELEMENTS);
      break;
    }
    case 'header':
      checkText(v, block.text, `${pointer}/text`, { max: 150, plainOnly: true });
      break;
    case 'actions': {
      const elements = checkArray(v, block.elements, `${pointer}/elements`, 1, 25);
      const actionIds = new Set<string>();
      elements?.forEach((el, i) => {
        const elPointer = `${pointer}/elements/${i}`;
        checkElement(v, el, elPointer, INTERACTIVE_ELEMENTS);
        if (isRecord(el) && typeof el.action_id === 'string') {
          if (actionIds.has(el.action_id)) v.add(`duplicate action_id: ${el.action_id}`, `${elPointer}/action_id`);
          actionIds.add(el.action_id);
        }
      });
      break;
    }
    case 'context': {
      const elements = checkArray(v, block.elements, `${pointer}/elements`, 1, 10);
      elements?.forEach((el, i) => {
        const elPointer = `${pointer}/elements/${i}`;
        if (isRecord(el) && el.type === 'image') checkElement(v, el, elPointer, ACCESSORY_ELEMENTS);
        else checkText(v, el, elPointer, { max: 3000 });
      });
      break;
    }
    case 'divider':
      break;
    case 'image':
      if (block.slack_file === undefined) checkString(v, block.image_url, `${pointer}/image_url`, 1, 3000);
      checkString(v, block.alt_text, `${pointer}/alt_text`, 0, 2000);
      checkOptionalText(v, block.title, `${pointer}/title`, { max: 2000, plainOnly: true });
      break;
    case 'input':
      checkText(v, block.label, `${pointer}/label`, { max: 2000, plainOnly: true });
      checkOptionalText(v, block.hint, `${pointer}/hint`, { max: 2000, plainOnly: true });
      if (block.element === undefined) v.add('missing required field: element', pointer);
      else checkElement(v, block.element, `${pointer}/element`, INPUT_ELEMENTS);
      break;
    case 'markdown':
      checkString(v, block.text, `${pointer}/text`, 1, 12000);
      break;
    default:
      if (typeof type !== 'string' || !OPAQUE_BLOCKS.has(type)) {
        v.add(`unsupported block type: ${String(type)}`, `${pointer}/type`);
      }
  }
}

function checkBlocks(v: Violations, blocks: unknown, pointer: string, surface: BlockSurface): void {
  const list = checkArray(v, blocks, pointer, 0, MAX_BLOCKS[surface]);
  const blockIds = new Map<string, string>();
  list?.forEach((block, i) => checkBlock(v, block, `${pointer}/${i}`, blockIds));
}

/** Block Kit violations Slack would report for `blocks` on a surface; pointers are rooted at `/blocks`. */
export function validateBlocks(blocks: unknown, surface: BlockSurface): string[] {
  const v = new Violations();
  checkBlocks(v, blocks, '/blocks', surface);
  return v.list;
}

/** Violations Slack would report for a modal or Home tab view; pointers are rooted at `/view`. */
export function validateView(view: unknown): string[] {
  const v = new Violations();
  if (!isRecord(view)) {
    v.add('must provide an object', '/view');
    return v.list;
  }
  if (view.type !== 'modal' && view.type !== 'home') v.add('must be a valid enum value', '/view/type');
  const surface: BlockSurface = view.type === 'home' ? 'home' : 'modal';
  if (view.type === 'modal') checkText(v, view.title, '/view/title', { max: 24, plainOnly: true });
  else checkOptionalText(v, view.title, '/view/title', { max: 24, plainOnly: true });
  checkOptionalText(v, view.submit, '/view/submit', { max: 24, plainOnly: true });
  checkOptionalText(v, view.close, '/view/close', { max: 24, plainOnly: true });
  checkOptionalString(v, view.private_metadata, '/view/private_metadata', 3000);
  checkOptionalString(v, view.callback_id, '/view/callback_id', 255);
  checkOptionalString(v, view.external_id, '/view/external_id', 255);
  if (view.blocks === undefined) v.add('missing required field: blocks', '/view');
  else checkBlocks(v, view.blocks, '/view/blocks', surface);
  const hasInput = Array.isArray(view.blocks) && view.blocks.some((b) => isRecord(b) && b.type === 'input');
  if (view.type === 'modal' && hasInput && view.submit === undefined) {
    v.add('must provide submit when the view contains input blocks', '/view/submit');
  }
  return v.list;
}
