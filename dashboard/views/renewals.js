// Renewals: contracts ending within the configured renewal window, by health and by forecast call, with ARR. A CSM
// sees their own and no forecast. Managers and admins make a second request, for the forecast of the same window.
import { graphql } from '../api.js';
import { accountLink, figure, formula, h, notForRole, panel, statusBadge } from '../dom.js';
import { addDays, dayDate, formatCount, formatDay, formatMoney, formatPercent, todayIso } from '../format.js';
import { sortableTable } from '../table.js';
import { ownBookOf } from './book.js';

const RENEWALS_QUERY = `query Renewals {
  renewals {
    id contractEnd windowOpensOn status daysUntilContractEnd
    account { id name arrCents csm { id name } health { score status } }
  }
}`;

const FORECAST_QUERY = `query RenewalForecast($from: Date!, $to: Date!) {
  renewalForecast(from: $from, to: $to) {
    from to
    groups { arrUpCents expectedGrr byCall { call renewals arrCents } }
  }
}`;

const STATUSES = ['healthy', 'at_risk', 'critical', 'insufficient_data', null];
const CALLS = ['commit', 'likely', 'at_risk', 'churning', null];
const CALL_WORDS = { commit: 'Commit', likely: 'Likely', at_risk: 'At risk', churning: 'Churning' };
// LIFELINE_RENEWAL_WINDOW_DAYS unless configured; the configured one is read off the renewals themselves.
const DEFAULT_WINDOW_DAYS = 90;

/** The renewal window in days: each renewal's window opens that many days before its contract end. */
function windowDays(renewals) {
  const days = renewals.map((renewal) => Math.round((dayDate(renewal.contractEnd) - dayDate(renewal.windowOpensOn)) / 86_400_000));
  return days.length > 0 ? Math.max(...days) : DEFAULT_WINDOW_DAYS;
}

async function forecastPanel(viewer, renewals) {
  if (!['admin', 'manager'].includes(viewer.role)) return notForRole('By forecast call', viewer.role, 'the renewal forecast (ARR by forecast call, expected GRR)');
  const today = todayIso();
  const data = await graphql(FORECAST_QUERY, { from: today, to: addDays(today, windowDays(renewals)) });
  const forecast = data.renewalForecast;
  const group = forecast.groups[0] ?? { arrUpCents: 0, expectedGrr: null, byCall: [] };
  return h(
    'section',
    { class: 'panel', 'data-forecast': '', 'data-period-from': forecast.from, 'data-period-to': forecast.to },
    h('h2', {}, 'By forecast call'),
    h(
      'div',
      { class: 'figures' },
      figure('Expected GRR if commits hold', formatPercent(group.expectedGrr), { 'data-metric': 'expected-grr', 'data-value': group.expectedGrr ?? '' }),
      figure(`ARR up, ${formatDay(forecast.from)} – ${formatDay(forecast.to)}`, formatMoney(group.arrUpCents)),
    ),
    sortableTable({
      attributes: { 'data-table': 'renewals-by-call' },
      empty: 'No contract ends within the renewal window.',
      columns: [
        { label: 'Forecast call', value: (row) => CALLS.indexOf(row.call), render: (row) => (row.call ? (CALL_WORDS[row.call] ?? row.call) : 'No call yet') },
        { label: 'Renewals', value: (row) => row.renewals, numeric: true },
        { label: 'ARR', value: (row) => row.arrCents, render: (row) => formatMoney(row.arrCents), numeric: true },
      ],
      rows: group.byCall,
    }),
    formula(
      'Renewals whose contract ends between today and the end of the renewal window, open ones and those already closed, by their current forecast call (for a closed one, the call it had before its outcome); ARR up = the account’s ARR for an open renewal, the ARR recorded as up for a closed one.',
      'Expected GRR if commits hold = (Σ over closed renewals of min(new ARR, ARR up), a churn counting 0, + Σ ARR up of open renewals called commit) ÷ Σ ARR up. Likely, at risk, churning and not yet called count as lost; expansion never counts. Source: renewalForecast.',
    ),
  );
}

export async function renewalsView(root, { viewer }) {
  const data = await graphql(RENEWALS_QUERY);
  const ownerId = viewer.role === 'csm' ? ownBookOf(viewer) : null;
  const renewals = data.renewals.filter((renewal) => !ownerId || renewal.account.csm?.id === ownerId);
  const arr = renewals.reduce((sum, renewal) => sum + renewal.account.arrCents, 0);
  const byHealth = STATUSES.map((status) => {
    const these = renewals.filter((renewal) => (renewal.account.health?.status ?? null) === status);
    return { status, count: these.length, arr: these.reduce((sum, renewal) => sum + renewal.account.arrCents, 0) };
  }).filter((row) => row.count > 0);
  const byCall = await forecastPanel(viewer, data.renewals);

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
    byCall,
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
