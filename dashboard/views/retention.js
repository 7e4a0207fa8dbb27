// Retention: NRR and GRR month by month for the last 12 months, the split by segment or CSM, and the waterfall of a
// month's MRR movements. One request for the page, one more when the split changes.
import { graphql } from '../api.js';
import { lineChart, waterfallChart } from '../charts.js';
import { figure, formula, h, notForRole, panel } from '../dom.js';
import { addDays, dayDate, formatCount, formatDay, formatMoney, formatMonth, formatPercent, monthStart, todayIso } from '../format.js';
import { sortableTable } from '../table.js';

const MONTH_FIELDS = `month from to openingMrrCents closingMrrCents
  revenue { nrr grr cohortAccounts startMrrCents endMrrCents retainedMrrCents churnedLogos newMrrCents expansionMrrCents contractionMrrCents churnedMrrCents reactivationMrrCents }`;

const RETENTION_QUERY = `query Retention($from: Date!, $to: Date!, $groupBy: MetricsGrouping) {
  series: retentionSeries(months: 12, through: $to) { from to groups { key label months { ${MONTH_FIELDS} } } }
  split: retentionSeries(months: 12, through: $to, groupBy: $groupBy) { groups { key label months { month revenue { nrr grr } } } }
  period: metrics(from: $from, to: $to) { from to groups { revenue { nrr grr cohortAccounts startMrrCents endMrrCents retainedMrrCents } } }
}`;

const SPLIT_QUERY = `query RetentionSplit($to: Date!, $groupBy: MetricsGrouping) {
  split: retentionSeries(months: 12, through: $to, groupBy: $groupBy) { groups { key label months { month revenue { nrr grr } } } }
}`;

const seconds = (isoDay) => dayDate(isoDay).getTime() / 1000;

const NRR_FORMULA = [
  'Monthly NRR = cohort MRR at the end of the month ÷ cohort MRR at its start; the cohort is the accounts with MRR on the first day (new logos of the month are not in it).',
  'Monthly GRR = Σ over the cohort of min(start MRR, end MRR) ÷ cohort start MRR: expansion does not count, so GRR never exceeds 100%.',
  "MRR of an account at a date = the sum of its revenue ledger's signed deltas effective up to that date. Source: retentionSeries (GraphQL).",
];

export async function retentionView(root, { viewer }) {
  if (!['admin', 'manager'].includes(viewer.role)) {
    root.append(notForRole('Retention', viewer.role, 'retention metrics (NRR, GRR, MRR movements)'));
    return;
  }
  const to = todayIso();
  const from = monthStart(to, -11);
  const data = await graphql(RETENTION_QUERY, { from, to, groupBy: 'segment' });
  const months = data.series.groups[0]?.months ?? [];
  const period = data.period.groups[0]?.revenue ?? {};
  const last = months.at(-1);

  root.append(
    h('h1', {}, 'Retention'),
    h(
      'div',
      { class: 'figures', 'data-period-from': data.period.from, 'data-period-to': data.period.to },
      figure(`NRR, ${formatMonth(from)} – today`, formatPercent(period.nrr), { 'data-metric': 'nrr', 'data-value': period.nrr ?? '' }),
      figure(`GRR, ${formatMonth(from)} – today`, formatPercent(period.grr), { 'data-metric': 'grr', 'data-value': period.grr ?? '' }),
      figure(`Cohort MRR on ${formatDay(data.period.from)} (${formatCount(period.cohortAccounts)} accounts)`, formatMoney(period.startMrrCents)),
      figure('MRR now (whole book)', formatMoney(last?.closingMrrCents)),
    ),
    formula(
      `The figures above cover ${data.period.from} to ${data.period.to} as one period: NRR = cohort end MRR ÷ cohort start MRR, GRR = Σ min(start, end) ÷ cohort start MRR, the cohort being the accounts with MRR on ${data.period.from}. Source: metrics(from, to).`,
    ),
  );

  const trend = panel('NRR and GRR by month');
  root.append(trend);
  lineChart(trend, {
    title: 'Net and gross revenue retention, month by month',
    xLabel: 'Month',
    yLabel: 'Retention',
    monthly: true,
    x: months.map((month) => seconds(month.month)),
    series: [
      { label: 'NRR', values: months.map((month) => month.revenue.nrr) },
      { label: 'GRR', values: months.map((month) => month.revenue.grr) },
    ],
    formatY: formatPercent,
    formulaLines: NRR_FORMULA,
    attributes: { 'data-chart': 'retention' },
  });

  // The split, by segment or by CSM.
  const split = panel('NRR by segment or CSM');
  const picker = h(
    'select',
    { id: 'split-by', 'aria-label': 'Split by' },
    h('option', { value: 'segment', selected: true }, 'By segment'),
    h('option', { value: 'csm' }, 'By CSM'),
  );
  const splitChart = h('div', {});
  split.append(h('label', { class: 'inline' }, 'Split ', picker), splitChart);
  root.append(split);
  const drawSplit = (groups) => {
    splitChart.replaceChildren();
    const x = (groups[0]?.months ?? months).map((month) => seconds(month.month));
    lineChart(splitChart, {
      title: `Monthly NRR ${picker.value === 'csm' ? 'by CSM' : 'by segment'}`,
      xLabel: 'Month',
      yLabel: 'NRR',
      monthly: true,
      x,
      series: groups.map((group) => ({ label: group.label, values: group.months.map((month) => month.revenue.nrr) })),
      formatY: formatPercent,
      formulaLines: [...NRR_FORMULA.slice(0, 1), "Each group is the accounts of that segment or CSM today (each account's current segment and CSM), measured on its own."],
      attributes: { 'data-chart': 'retention-split' },
    });
  };
  drawSplit(data.split.groups);
  picker.addEventListener('change', async () => {
    splitChart.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
    try {
      const next = await graphql(SPLIT_QUERY, { to, groupBy: picker.value });
      drawSplit(next.split.groups);
    } catch (error) {
      splitChart.replaceChildren(h('p', { class: 'error', role: 'alert' }, error.message));
    }
  });

  // The waterfall of one month: the last complete one by default (the current month has only just begun).
  const lastComplete = months.length > 1 && last && last.to !== addDays(monthStart(last.month, 1), -1) ? months.length - 2 : months.length - 1;
  const movements = panel('MRR movements of a month');
  const monthPicker = h(
    'select',
    { id: 'waterfall-month', 'aria-label': 'Month' },
    months.map((month, index) => h('option', { value: String(index), selected: index === lastComplete }, formatMonth(month.month))),
  );
  const waterfall = h('div', {});
  movements.append(h('label', { class: 'inline' }, 'Month ', monthPicker), waterfall);
  root.append(movements);
  const drawWaterfall = () => {
    const month = months[Number(monthPicker.value)];
    waterfall.replaceChildren();
    if (!month) return;
    const r = month.revenue;
    const steps = [
      { label: 'Start', value: month.openingMrrCents, kind: 'total' },
      { label: 'New', value: r.newMrrCents, kind: 'up' },
      { label: 'Expansion', short: 'Exp.', value: r.expansionMrrCents, kind: 'up' },
      { label: 'Reactivation', short: 'React.', value: r.reactivationMrrCents, kind: 'up' },
      { label: 'Contraction', short: 'Contr.', value: r.contractionMrrCents, kind: 'down' },
      { label: 'Churn', value: r.churnedMrrCents, kind: 'down' },
      { label: 'End', value: month.closingMrrCents, kind: 'total' },
    ];
    waterfallChart(waterfall, {
      title: `MRR from ${month.from} to ${month.to}: start, movements, end`,
      xLabel: 'Movement',
      yLabel: 'MRR',
      steps,
      formatY: (value) => formatMoney(value),
      formulaLines: [
        'End MRR = start MRR + new + expansion + reactivation − contraction − churn, over every account (not only the cohort).',
        'Start = Σ MRR from ledger entries effective before the first day; end = Σ MRR from entries effective up to the last day. Each movement is the sum of the ledger entries of that kind effective in the month.',
      ],
      attributes: { 'data-chart': 'waterfall' },
    });
    waterfall.append(
      sortableTable({
        caption: 'The movements in numbers',
        columns: [
          { label: 'Movement', value: (step) => step.label },
          { label: 'MRR', value: (step) => (step.kind === 'down' ? -step.value : step.value), render: (step) => `${step.kind === 'down' ? '−' : step.kind === 'up' ? '+' : ''}${formatMoney(step.value)}`, numeric: true },
        ],
        rows: steps,
      }),
    );
  };
  monthPicker.addEventListener('change', drawWaterfall);
  drawWaterfall();

  root.append(
    panel(
      'Month by month',
      sortableTable({
        columns: [
          { label: 'Month', value: (month) => month.month, render: (month) => formatMonth(month.month) },
          { label: 'NRR', value: (month) => month.revenue.nrr, render: (month) => formatPercent(month.revenue.nrr), numeric: true },
          { label: 'GRR', value: (month) => month.revenue.grr, render: (month) => formatPercent(month.revenue.grr), numeric: true },
          { label: 'Start MRR', value: (month) => month.openingMrrCents, render: (month) => formatMoney(month.openingMrrCents), numeric: true },
          { label: 'New', value: (month) => month.revenue.newMrrCents, render: (month) => formatMoney(month.revenue.newMrrCents), numeric: true },
          { label: 'Expansion', value: (month) => month.revenue.expansionMrrCents, render: (month) => formatMoney(month.revenue.expansionMrrCents), numeric: true },
          { label: 'Contraction', value: (month) => month.revenue.contractionMrrCents, render: (month) => formatMoney(month.revenue.contractionMrrCents), numeric: true },
          { label: 'Churn', value: (month) => month.revenue.churnedMrrCents, render: (month) => formatMoney(month.revenue.churnedMrrCents), numeric: true },
          { label: 'Reactivation', value: (month) => month.revenue.reactivationMrrCents, render: (month) => formatMoney(month.revenue.reactivationMrrCents), numeric: true },
          { label: 'End MRR', value: (month) => month.closingMrrCents, render: (month) => formatMoney(month.closingMrrCents), numeric: true },
        ],
        rows: months,
      }),
    ),
  );
}
