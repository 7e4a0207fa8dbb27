// Block Kit as Slack draws it: header, section (text, fields, accessory), context, actions, divider, input, image.
// Interactive elements call `ctx.act(blockId, actionId, choice)`; inputs of a modal only hold their value until it
// is submitted (collectValues reads them back).

import { escapeHtml, plainToHtml, textToHtml } from './mrkdwn.js';

function el(tag, className, html) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (html !== undefined) node.innerHTML = html;
  return node;
}

function optionsOf(element) {
  return [...(element.options ?? []), ...(element.option_groups ?? []).flatMap((group) => group.options ?? [])];
}

function optionNode(option, selected) {
  const node = document.createElement('option');
  node.value = option.value;
  node.textContent = option.text?.text ?? option.value;
  node.selected = selected;
  return node;
}

function selectFor(element, ctx, options, selected) {
  const select = document.createElement('select');
  const placeholder = optionNode({ value: '', text: element.placeholder ?? { text: 'Select…' } }, !selected);
  placeholder.disabled = element.type !== 'overflow';
  select.append(placeholder, ...options.map((option) => optionNode(option, option.value === selected)));
  return select;
}

/** One interactive element. In an input block (`input: true`) it only keeps its value. */
function elementNode(element, blockId, ctx, input = false) {
  const dispatch = (choice) => ctx.act(blockId, element.action_id, choice);
  const mark = (node) => {
    node.dataset.block = blockId;
    node.dataset.action = element.action_id;
    if (input) node.dataset.input = element.type;
    return node;
  };
  switch (element.type) {
    case 'button': {
      const button = el('button', `btn ${element.style ?? ''}`.trim(), plainToHtml(element.text));
      button.type = 'button';
      button.addEventListener('click', () => (element.url ? window.open(element.url, '_blank', 'noopener') : null, dispatch(null)));
      return mark(button);
    }
    case 'static_select':
    case 'users_select':
    case 'overflow': {
      const options =
        element.type === 'users_select'
          ? ctx.people.map((person) => ({ value: person.id, text: { text: person.name } }))
          : optionsOf(element);
      const selected = element.type === 'users_select' ? element.initial_user : element.initial_option?.value;
      const select = selectFor(element.type === 'overflow' ? { ...element, placeholder: { text: '⋯' } } : element, ctx, options, selected);
      if (element.type === 'overflow') select.setAttribute('aria-label', 'More actions');
      if (!input) {
        select.addEventListener('change', () => {
          if (select.value === '') return;
          dispatch(select.value);
          // An overflow menu is a menu: it shows no choice once one is made.
          if (element.type === 'overflow') select.value = '';
        });
      }
      return mark(select);
    }
    case 'datepicker': {
      const date = document.createElement('input');
      date.type = 'date';
      if (element.initial_date) date.value = element.initial_date;
      if (!input) date.addEventListener('change', () => dispatch(date.value || null));
      return mark(date);
    }
    case 'plain_text_input': {
      const field = document.createElement(element.multiline ? 'textarea' : 'input');
      if (!element.multiline) field.type = 'text';
      if (element.initial_value) field.value = element.initial_value;
      if (element.max_length) field.maxLength = element.max_length;
      if (element.placeholder) field.placeholder = element.placeholder.text;
      return mark(field);
    }
    case 'radio_buttons':
    case 'checkboxes': {
      const group = mark(el('div', 'choices'));
      const initial = new Set([element.initial_option?.value, ...(element.initial_options ?? []).map((option) => option.value)]);
      for (const option of element.options ?? []) {
        const label = el('label');
        const box = document.createElement('input');
        box.type = element.type === 'radio_buttons' ? 'radio' : 'checkbox';
        box.name = `${blockId}:${element.action_id}`;
        box.value = option.value;
        box.checked = initial.has(option.value);
        if (!input) box.addEventListener('change', () => dispatch(element.type === 'radio_buttons' ? box.value : checked(group)));
        label.append(box, ' ', el('span', '', textToHtml(option.text, ctx.names)));
        group.append(label);
      }
      return group;
    }
    case 'image':
      return el('span', 'context-image', escapeHtml(element.alt_text ?? ''));
    default:
      return el('span', 'unknown', escapeHtml(`[${element.type}]`));
  }
}

function checked(group) {
  return [...group.querySelectorAll('input:checked')].map((box) => box.value);
}

/** What a person typed or chose in a view's inputs, by block id and action id, as the simulator server reads it. */
export function collectValues(root) {
  const values = {};
  for (const node of root.querySelectorAll('[data-input]')) {
    const { block, action, input } = node.dataset;
    let value;
    if (input === 'checkboxes') value = checked(node);
    else if (input === 'radio_buttons') value = checked(node)[0] ?? null;
    else value = node.value === '' ? null : node.value;
    values[block] = { ...(values[block] ?? {}), [action]: value };
  }
  return values;
}

function blockNode(block, ctx) {
  const id = block.block_id;
  switch (block.type) {
    case 'header':
      return el('div', 'block header', plainToHtml(block.text));
    case 'divider':
      return el('hr');
    case 'section': {
      const node = el('div', 'block section');
      const body = el('div', 'body', textToHtml(block.text, ctx.names));
      if (block.fields) {
        const fields = el('div', 'fields');
        for (const field of block.fields) fields.append(el('div', 'field', textToHtml(field, ctx.names)));
        body.append(fields);
      }
      node.append(body);
      if (block.accessory) node.append(elementNode(block.accessory, id, ctx));
      return node;
    }
    case 'context': {
      const node = el('div', 'block context');
      for (const element of block.elements ?? []) {
        node.append(element.type === 'image' ? el('span', '', escapeHtml(element.alt_text ?? '')) : el('span', '', textToHtml(element, ctx.names)));
      }
      return node;
    }
    case 'actions': {
      const node = el('div', 'block actions');
      for (const element of block.elements ?? []) node.append(elementNode(element, id, ctx));
      return node;
    }
    case 'input': {
      const node = el('div', 'block input');
      const label = el('div', 'label', `${plainToHtml(block.label)}${block.optional ? ' <span class="hint">(optional)</span>' : ''}`);
      const control = elementNode(block.element, id, ctx, true);
      control.setAttribute('aria-label', block.label?.text ?? '');
      node.append(label, control);
      if (block.hint) node.append(el('div', 'hint', plainToHtml(block.hint)));
      const error = ctx.errors?.[id];
      if (error) node.append(el('div', 'error', escapeHtml(error)));
      return node;
    }
    case 'image':
      return el('div', 'block context', escapeHtml(`[image: ${block.alt_text ?? ''}]`));
    default:
      return el('div', 'block unknown', escapeHtml(`[${block.type} block]`));
  }
}

/** Blocks as nodes. ctx: { names: Map id→name, people: [{id,name}], act(blockId, actionId, choice), errors }. */
export function renderBlocks(blocks, ctx) {
  const fragment = document.createDocumentFragment();
  for (const block of blocks ?? []) fragment.append(blockNode(block, ctx));
  return fragment;
}
