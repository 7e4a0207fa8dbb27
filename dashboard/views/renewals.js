// Renewals: contracts ending within the configured renewal window, by health, with ARR. A CSM sees their own.
import { graphql } from '../api.js';
import { accountLink, figure, formula, h, panel, statusBadge } from '../dom.js';
import { formatCount, formatDay, formatMoney } from '../format.js';
import { sortableTable } from '../table.js';
import { ownBookOf } from './book.js';

const RENEWALS_QUERY = `query Renewals {
  renewals {
    id contractEnd windowOpensOn status daysUntilContractEnd
    account { id name arrCents csm { id name } health { score status } }
  }
}`;

const STATUSES = ['healthy', 'at_risk', 'critical', 'insufficient_data', null];

export async function renewalsView(root, { viewer }) {
  const data = await graphql(RENEWALS_QUERY);
  const ownerId = viewer.role === 'csm' ? ownBookOf(viewer) : null;
  const renewals = data.renewals.filter((renewal) => !ownerId || renewal.account.csm?.id === ownerId);
  const arr = renewals.reduce((sum, renewal) => sum + renewal.account.arrCents, 0);
  const byHealth = STATUSES.map((status) => {
    const these = renewals.filter((renewal) => (renewal.account.health?.status ?? null) === status);
    return { status, count: these.length, arr: these.reduce((sum, renewal) => sum + renewal.account.arrCents, 0) };
  }).filter((row) => row.count > 0);

  root.append(
    h('h1', {}, ownerId ? 'My renewals' : 'Renewals'),
    h('div', { class: 'figures' }, figure('Up for renewal in the window', formatCount(renewals.length)), figure('ARR up for renewal', formatMoney(arr))),
    panel(
      'By health',
      sortableTable({
        attributes: { 'data-table': 'renewals-by-health' },
        empty: 'No contract ends within the renewal window.',
        columns: [
          { label: 'Health', value: (row) => STATUSES.indexOf(row.status), render: (row) => statusBadge(row.status) },
          { label: 'Renewals', value: (row) => row.count, numeric: true },
          { label: 'ARR', value: (row) => row.arr, render: (row) => formatMoney(row.arr), numeric: true },
        ],
        rows: byHealth,
      }),
      formula('Renewals whose contract ends between today and the end of the renewal window (LIFELINE_RENEWAL_WINDOW_DAYS, 90 days unless configured), grouped by the account’s latest health; ARR = Σ arrCents. Source: renewals.'),
    ),
    // Forecast calls (commit, best case, at risk) are not recorded by Lifeline yet: when renewals carry a forecast
    // call, this panel shows the window by call, the way the one above shows it by health.
    h(
      'section',
      { class: 'panel placeholder', 'data-placeholder': 'forecast-calls' },
      h('h2', {}, 'By forecast call'),
      h('p', {}, 'Forecast calls on renewals are not recorded yet. Once they are, renewals in the window will be shown here by call, with their ARR.'),
    ),
    panel(
      'Every renewal in the window',
      sortableTable({
        attributes: { 'data-table': 'renewals' },
        empty: 'No contract ends within the renewal window.',
        columns: [
          { label: 'Account', value: (renewal) => renewal.account.name, render: (renewal) => accountLink(renewal.account) },
          { label: 'Contract end', value: (renewal) => renewal.contractEnd, render: (renewal) => formatDay(renewal.contractEnd) },
          { label: 'Days left', value: (renewal) => renewal.daysUntilContractEnd, numeric: true },
          { label: 'Health', value: (renewal) => renewal.account.health?.score ?? null, render: (renewal) => h('span', {}, statusBadge(renewal.account.health?.status ?? null), ' ', String(renewal.account.health?.score ?? '')), numeric: true },
          { label: 'ARR', value: (renewal) => renewal.account.arrCents, render: (renewal) => formatMoney(renewal.account.arrCents), numeric: true },
          { label: 'Status', value: (renewal) => renewal.status },
          { label: 'CSM', value: (renewal) => renewal.account.csm?.name ?? null, render: (renewal) => renewal.account.csm?.name ?? 'No CSM' },
        ],
        rows: renewals,
      }),
    ),
  );
}
