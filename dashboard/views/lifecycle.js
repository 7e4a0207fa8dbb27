// Lifecycle: the stage funnel over the last 90 days, the handoff SLA and time to first value. One request.
import { graphql } from '../api.js';
import { shareBar } from '../charts.js';
import { figure, formula, h, notForRole, panel } from '../dom.js';
import { addDays, formatCount, formatDecimal, formatDay, formatPercent, todayIso } from '../format.js';
import { sortableTable } from '../table.js';

const LIFECYCLE_QUERY = `query Lifecycle($from: Date!, $to: Date!) {
  metrics(from: $from, to: $to) {
    from to
    groups {
      funnel { stage { key name position slaDays terminal } entered advanced movedBack medianDaysInStage p90DaysInStage slaBreaches }
      handoffSla { handoffs medianHoursToKickoff decided withinSla shareWithinSla }
      timeToFirstValue { accounts reached medianDays }
    }
  }
}`;

export const LIFECYCLE_DAYS = 90;

export async function lifecycleView(root, { viewer }) {
  if (!['admin', 'manager'].includes(viewer.role)) {
    root.append(notForRole('Lifecycle', viewer.role, 'lifecycle metrics (the funnel, handoff SLA, time to first value)'));
    return;
  }
  const to = todayIso();
  const from = addDays(to, -(LIFECYCLE_DAYS - 1));
  const data = await graphql(LIFECYCLE_QUERY, { from, to });
  const group = data.metrics.groups[0];
  const funnel = group.funnel;
  const most = Math.max(1, ...funnel.map((row) => row.entered));
  const sla = group.handoffSla;
  const ttfv = group.timeToFirstValue;

  root.append(
    h('h1', {}, 'Lifecycle'),
    h('p', { class: 'period' }, `The last ${LIFECYCLE_DAYS} days: ${formatDay(data.metrics.from)} – ${formatDay(data.metrics.to)}.`),
    h(
      'div',
      { class: 'figures' },
      figure('Handoffs', formatCount(sla.handoffs)),
      figure('Kickoff within SLA', formatPercent(sla.shareWithinSla)),
      figure('Median hours to kickoff', formatDecimal(sla.medianHoursToKickoff)),
      figure('Median days to first value', formatDecimal(ttfv.medianDays)),
    ),
    formula(
      'Handoff SLA: share of decided handoffs (kickoff scheduled, or the SLA deadline passed) whose kickoff was first scheduled by closed-won + 3 days. Median hours to kickoff = median of (kickoff − closed-won).',
      `Time to first value: of the ${formatCount(ttfv.accounts)} accounts first closed-won in the period, ${formatCount(ttfv.reached)} reached first value; the median is over those, in days from closed-won.`,
    ),
    panel(
      'Stage funnel',
      sortableTable({
        caption: 'Per stage over the period',
        attributes: { 'data-table': 'funnel' },
        columns: [
          { label: 'Stage', value: (row) => row.stage.position, render: (row) => row.stage.name },
          { label: 'Entered', value: (row) => row.entered, numeric: true, render: (row) => h('span', {}, formatCount(row.entered), ' ', shareBar(row.entered / most, `${row.entered} entered`)) },
          { label: 'Advanced', value: (row) => row.advanced, numeric: true },
          { label: 'Moved back', value: (row) => row.movedBack, numeric: true },
          { label: 'Median days', value: (row) => row.medianDaysInStage, render: (row) => formatDecimal(row.medianDaysInStage), numeric: true },
          { label: 'p90 days', value: (row) => row.p90DaysInStage, render: (row) => formatDecimal(row.p90DaysInStage), numeric: true },
          { label: 'SLA days', value: (row) => row.stage.slaDays, render: (row) => (row.stage.slaDays == null ? 'none' : formatCount(row.stage.slaDays)), numeric: true },
          { label: 'SLA breaches', value: (row) => row.slaBreaches, numeric: true, render: (row) => h('span', { class: row.slaBreaches > 0 ? 'overdue' : null }, formatCount(row.slaBreaches)) },
        ],
        rows: funnel,
      }),
      formula(
        'A stay is the time from a transition into the stage to the account’s next transition. Entered = transitions into the stage in the period; advanced / moved back = stays that ended in the period with a forward / backward move.',
        'Median and p90 days: continuous percentiles of the lengths of stays that ended in the period. SLA breaches: stays whose deadline (entered + the stage’s SLA days) fell in the period while the account was still in the stage. Source: metrics(from, to).',
      ),
    ),
  );
}
