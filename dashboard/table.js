// Tables whose columns sort when their header is clicked (again to reverse), announced with aria-sort.
import { h } from './dom.js';

/**
 * columns: { label, value: row => sortable value, render?: row => node or text, numeric?: boolean }.
 * Empty values (null) sort last either way.
 */
export function sortableTable({ caption, columns, rows, empty = 'Nothing to show.', attributes = {} }) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  const body = h('tbody');
  let sortIndex = -1;
  let ascending = true;
  const headers = columns.map((column, index) =>
    h(
      'th',
      { scope: 'col', class: column.numeric ? 'numeric' : null, 'aria-sort': 'none' },
      h('button', { type: 'button', class: 'sort', onclick: () => sortBy(index) }, column.label),
    ),
  );
  const fill = (ordered) => {
    body.replaceChildren(
      ...ordered.map((row) =>
        h(
          'tr',
          {},
          columns.map((column) => h('td', { class: column.numeric ? 'numeric' : null }, column.render ? column.render(row) : String(column.value(row) ?? '–'))),
        ),
      ),
    );
  };
  function sortBy(index) {
    ascending = sortIndex === index ? !ascending : !columns[index].numeric;
    sortIndex = index;
    const value = columns[index].value;
    const ordered = [...rows].sort((a, b) => {
      const left = value(a);
      const right = value(b);
      if (left == null && right == null) return 0;
      if (left == null) return 1;
      if (right == null) return -1;
      const order = typeof left === 'number' && typeof right === 'number' ? left - right : String(left).localeCompare(String(right));
      return ascending ? order : -order;
    });
    headers.forEach((header, position) => header.setAttribute('aria-sort', position === index ? (ascending ? 'ascending' : 'descending') : 'none'));
    fill(ordered);
  }
  fill(rows);
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', attributes, caption ? h('caption', {}, caption) : null, h('thead', {}, h('tr', {}, headers)), body),
  );
}
