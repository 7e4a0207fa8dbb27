// Team: each CSM's book size, ARR, at-risk share and overdue tasks. One request.
import { graphql } from '../api.js';
import { shareBar } from '../charts.js';
import { formula, h, notForRole, panel } from '../dom.js';
import { formatCount, formatMoney, formatPercent } from '../format.js';
import { sortableTable } from '../table.js';

const TEAM_QUERY = `query Team {
  team { csm { id name } accounts arrCents atRisk atRiskArrCents atRiskShare openTasks overdueTasks }
}`;

export async function teamView(root, { viewer }) {
  if (!['admin', 'manager'].includes(viewer.role)) {
    root.append(notForRole('Team', viewer.role, 'the team view (every CSM’s book, risk and overdue tasks)'));
    return;
  }
  const data = await graphql(TEAM_QUERY);
  root.append(
    h('h1', {}, 'Team'),
    panel(
      'Per CSM',
      sortableTable({
        attributes: { 'data-table': 'team' },
        empty: 'No CSM yet.',
        columns: [
          { label: 'CSM', value: (row) => row.csm.name },
          { label: 'Accounts', value: (row) => row.accounts, numeric: true },
          { label: 'ARR', value: (row) => row.arrCents, render: (row) => formatMoney(row.arrCents), numeric: true },
          { label: 'At risk', value: (row) => row.atRisk, numeric: true },
          {
            label: 'At-risk share',
            value: (row) => row.atRiskShare,
            numeric: true,
            render: (row) => h('span', {}, formatPercent(row.atRiskShare), ' ', shareBar(row.atRiskShare, formatPercent(row.atRiskShare))),
          },
          { label: 'ARR at risk', value: (row) => row.atRiskArrCents, render: (row) => formatMoney(row.atRiskArrCents), numeric: true },
          { label: 'Open tasks', value: (row) => row.openTasks, numeric: true },
          { label: 'Overdue tasks', value: (row) => row.overdueTasks, numeric: true, render: (row) => h('span', { class: row.overdueTasks > 0 ? 'overdue' : null }, formatCount(row.overdueTasks)) },
        ],
        rows: data.team,
      }),
      formula(
        'Book: accounts in live stages whose CSM this person is; ARR = Σ arrCents. At risk: those on the at-risk list (At risk or Critical, or Healthy but fallen 10 points in a day); share = at risk ÷ accounts.',
        'Open tasks: tasks this person owns that are open (an ended snooze counts); overdue: of those, due before today. Source: team.',
      ),
    ),
  );
}
