// The book now: accounts by stage and health, the at-risk list with its reasons, the week's biggest health drops,
// and (for a CSM) their own open tasks. One request. A CSM or an account executive sees their own book.
import { graphql } from '../api.js';
import { accountLink, figure, formula, h, panel, statusBadge } from '../dom.js';
import { formatCount, formatDay, formatMoney, formatPercent } from '../format.js';
import { shareBar } from '../charts.js';
import { sortableTable } from '../table.js';

const BOOK_QUERY = `query Book($ownerId: ID, $csmId: ID, $mine: Boolean!) {
  accountBreakdown(ownerId: $ownerId) { stage { key name position terminal } status accounts arrCents }
  atRisk(csmId: $csmId, first: 100) { account { id name arrCents stage { name } } score status drop reasons renewalDate csm { name } }
  drops: accounts(first: 10, orderBy: health_drop, filter: { ownerId: $ownerId }) {
    edges { node { id name arrCents csm { name } health { score status scoreWeekAgo dropOverWeek reasons } } }
  }
  tasks(first: 50, filter: { ownerId: $ownerId, state: open }) @include(if: $mine) {
    totalCount edges { node { id title dueOn overdue account { id name } } }
  }
}`;

const STATUSES = ['healthy', 'at_risk', 'critical', 'insufficient_data', null];

/** Whose book the page shows: everyone's for managers, admins and viewers; one's own for a CSM or an AE. */
export function ownBookOf(viewer) {
  return ['csm', 'ae'].includes(viewer.role) && viewer.user ? viewer.user.id : null;
}

export async function bookView(root, { viewer }) {
  const ownerId = ownBookOf(viewer);
  const data = await graphql(BOOK_QUERY, { ownerId, csmId: viewer.role === 'csm' ? ownerId : null, mine: Boolean(ownerId) });
  const live = data.accountBreakdown.filter((cell) => !cell.stage.terminal);
  const total = live.reduce((sum, cell) => sum + cell.accounts, 0);
  const arr = live.reduce((sum, cell) => sum + cell.arrCents, 0);
  const atRiskArr = data.atRisk.reduce((sum, item) => sum + item.account.arrCents, 0);

  root.append(
    h('h1', {}, ownerId ? 'My book now' : 'The book now'),
    h(
      'div',
      { class: 'figures' },
      figure('Accounts in live stages', formatCount(total)),
      figure('ARR', formatMoney(arr)),
      figure('On the at-risk list', formatCount(data.atRisk.length), { 'data-metric': 'at-risk', 'data-value': data.atRisk.length }),
      figure('ARR at risk', `${formatMoney(atRiskArr)} (${formatPercent(arr ? atRiskArr / arr : null)})`),
    ),
  );

  // Stage × health.
  const stages = [];
  for (const cell of live) if (!stages.some((stage) => stage.key === cell.stage.key)) stages.push(cell.stage);
  const rows = stages.map((stage) => {
    const cells = live.filter((cell) => cell.stage.key === stage.key);
    const count = (status) => cells.filter((cell) => cell.status === status).reduce((sum, cell) => sum + cell.accounts, 0);
    return {
      stage,
      counts: STATUSES.map(count),
      total: cells.reduce((sum, cell) => sum + cell.accounts, 0),
      arr: cells.reduce((sum, cell) => sum + cell.arrCents, 0),
    };
  });
  const labels = ['Healthy', 'At risk', 'Critical', 'Insufficient data', 'Not computed'];
  root.append(
    panel(
      'Accounts by stage and health',
      sortableTable({
        caption: 'Accounts in each live stage, by their latest health',
        attributes: { 'data-table': 'breakdown' },
        columns: [
          { label: 'Stage', value: (row) => row.stage.position, render: (row) => row.stage.name },
          ...labels.map((label, index) => ({ label, value: (row) => row.counts[index], render: (row) => formatCount(row.counts[index]), numeric: true })),
          { label: 'Accounts', value: (row) => row.total, numeric: true, render: (row) => h('span', {}, formatCount(row.total), ' ', shareBar(total ? row.total / total : 0, formatPercent(total ? row.total / total : 0))) },
          { label: 'ARR', value: (row) => row.arr, render: (row) => formatMoney(row.arr), numeric: true },
        ],
        rows,
      }),
      formula('Counts come from accountBreakdown: accounts grouped by stage and latest health status; terminal stages (Churned) are left out. ARR = Σ arrCents of those accounts.'),
    ),
  );

  // The at-risk list.
  root.append(
    panel(
      'At risk, and why',
      sortableTable({
        caption: 'At risk or Critical, or Healthy but fallen 10 points in a day; biggest drop first',
        attributes: { 'data-table': 'at-risk' },
        empty: 'No account is on the at-risk list.',
        columns: [
          { label: 'Account', value: (item) => item.account.name, render: (item) => accountLink(item.account) },
          { label: 'Health', value: (item) => item.score, render: (item) => h('span', {}, statusBadge(item.status), ' ', String(item.score)), numeric: true },
          { label: 'Drop (day)', value: (item) => item.drop, numeric: true },
          { label: 'Why', value: (item) => item.reasons.join('; '), render: (item) => h('ul', { class: 'reasons' }, item.reasons.map((reason) => h('li', {}, reason))) },
          { label: 'ARR', value: (item) => item.account.arrCents, render: (item) => formatMoney(item.account.arrCents), numeric: true },
          { label: 'Renewal', value: (item) => item.renewalDate, render: (item) => formatDay(item.renewalDate) },
          { label: 'CSM', value: (item) => item.csm?.name ?? null, render: (item) => item.csm?.name ?? 'No CSM' },
        ],
        rows: data.atRisk,
      }),
      formula('The at-risk list (atRisk): accounts in live stages whose health is At risk or Critical, or Healthy but 10 or more points lower than a day ago. Accounts without a score (insufficient data) are never on it.'),
    ),
  );

  // The biggest drops of the week.
  const drops = data.drops.edges.map((edge) => edge.node).filter((account) => (account.health?.dropOverWeek ?? 0) > 0);
  root.append(
    panel(
      'Biggest health drops this week',
      sortableTable({
        attributes: { 'data-table': 'drops' },
        empty: 'No account lost health over the last week.',
        columns: [
          { label: 'Account', value: (account) => account.name, render: (account) => accountLink(account) },
          { label: 'A week ago', value: (account) => account.health.scoreWeekAgo, numeric: true },
          { label: 'Now', value: (account) => account.health.score, render: (account) => h('span', {}, statusBadge(account.health.status), ' ', String(account.health.score ?? '–')), numeric: true },
          { label: 'Drop', value: (account) => account.health.dropOverWeek, numeric: true },
          { label: 'Why', value: (account) => account.health.reasons.join('; '), render: (account) => h('ul', { class: 'reasons' }, account.health.reasons.map((reason) => h('li', {}, reason))) },
          { label: 'CSM', value: (account) => account.csm?.name ?? null, render: (account) => account.csm?.name ?? 'No CSM' },
        ],
        rows: drops,
      }),
      formula('Drop over the week = score a week ago − score now (accounts ordered by health_drop), largest first; only accounts that fell.'),
    ),
  );

  if (data.tasks) {
    root.append(
      panel(
        `My open tasks (${formatCount(data.tasks.totalCount)})`,
        sortableTable({
          attributes: { 'data-table': 'tasks' },
          empty: 'No open task.',
          columns: [
            { label: 'Due', value: (task) => task.dueOn, render: (task) => h('span', { class: task.overdue ? 'overdue' : null }, formatDay(task.dueOn), task.overdue ? ' (overdue)' : '') },
            { label: 'Task', value: (task) => task.title },
            { label: 'Account', value: (task) => task.account?.name ?? null, render: (task) => (task.account ? accountLink(task.account) : '–') },
          ],
          rows: data.tasks.edges.map((edge) => edge.node),
        }),
      ),
    );
  }
}
