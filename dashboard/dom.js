// Building the page from data without ever parsing data as HTML: every value becomes a text node.
import { formatStatus } from './format.js';

/** An element with attributes (`class`, `href`, `data-*`, `aria-*`, …) and children (nodes, strings, arrays). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value == null) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A chart's or a table's formula, a click away. */
export function formula(...lines) {
  return h('details', { class: 'formula' }, h('summary', {}, 'Formula'), ...lines.map((line) => h('p', {}, line)));
}

/** A panel with a heading. */
export function panel(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

/** What a role may not see, said plainly in place of the panel. */
export function notForRole(title, role, what) {
  return h(
    'section',
    { class: 'panel explanation', 'data-explanation': title },
    h('h2', {}, title),
    h('p', {}, `Your role (${role}) cannot read ${what}: they are for managers and admins.`),
    h('p', {}, 'Your own book, its at-risk accounts, renewals and tasks are under “The book now” and “Renewals”. Ask a manager if you need these numbers.'),
  );
}

/** A number with its label, for the row of headline figures. */
export function figure(label, value, attributes = {}) {
  return h('div', { class: 'figure', ...attributes }, h('span', { class: 'figure-value' }, value), h('span', { class: 'figure-label' }, label));
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status ?? 'none'}` }, formatStatus(status));
}

export function accountLink(account) {
  return h('a', { href: `#/account/${encodeURIComponent(account.id)}` }, account.name);
}
