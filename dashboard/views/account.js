// One account: its health history as a line with the reasons at each point, the components of its score, its
// stage timeline, handoff, renewal and open tasks: why it is where it is, and what is being done. One request.
import { graphql } from '../api.js';
import { lineChart } from '../charts.js';
import { figure, formula, h, panel, statusBadge } from '../dom.js';
import { formatDay, formatDecimal, formatMoment, formatMoney, formatSegment } from '../format.js';
import { sortableTable } from '../table.js';

export const HISTORY_DAYS = 90;

const ACCOUNT_QUERY = `query Account($id: ID!, $days: Int!) {
  account(id: $id) {
    id name segment arrCents contractStart contractEnd daysInStage
    stage { name slaDays } csm { name } ae { name }
    health {
      score status computedAt reasons scoreWeekAgo dropOverWeek
      components { name score weight detail }
      history(days: $days) { score status computedAt reasons }
      sentiment { sentiment note recordedAt }
    }
    transitions(first: 50) { fromStage { name } toStage { name } direction actorLabel reason occurredAt }
    handoff { status closedWonAt slaDueAt kickoffAt kickoffScheduledAt goals risks ae { name } csm { name } }
    renewal { contractEnd windowOpensOn status daysUntilContractEnd outcome }
    openTasks { id title dueOn overdue state reason owner { name } }
  }
}`;

const componentNames = { usage: 'Product usage', support: 'Support tickets', nps: 'NPS / CSAT', engagement: 'CSM engagement' };

function reasonsAt(point) {
  return h(
    'div',
    { class: 'point-reasons', 'data-point': point.computedAt },
    h('p', {}, h('strong', {}, formatMoment(point.computedAt)), ' · ', statusBadge(point.status), ' ', point.score == null ? 'no score' : `score ${point.score}`),
    h('ul', { class: 'reasons' }, point.reasons.length ? point.reasons.map((reason) => h('li', {}, reason)) : h('li', {}, 'No reason recorded.')),
  );
}

export async function accountView(root, { id }) {
  const data = await graphql(ACCOUNT_QUERY, { id, days: HISTORY_DAYS });
  const account = data.account;
  if (!account) {
    root.append(h('h1', {}, 'No such account'), h('p', {}, 'There is no account with this id that you may read. Pick one from the book or the at-risk list.'));
    return;
  }
  const health = account.health;
  root.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/book' }, '← The book now')),
    h('h1', {}, account.name),
    h(
      'div',
      { class: 'figures' },
      figure('Health', health ? h('span', {}, statusBadge(health.status), ' ', String(health.score ?? '–')) : 'Not computed'),
      figure('Drop over the week', health?.dropOverWeek == null ? '–' : String(health.dropOverWeek)),
      figure('ARR', formatMoney(account.arrCents)),
      figure('Stage', `${account.stage.name} · ${account.daysInStage} days`),
      figure('Renewal', account.renewal ? `${formatDay(account.renewal.contractEnd)} (${account.renewal.daysUntilContractEnd} days)` : formatDay(account.contractEnd)),
    ),
    h('p', { class: 'meta' }, `${formatSegment(account.segment)} · CSM ${account.csm?.name ?? 'none'} · AE ${account.ae?.name ?? 'none'}`),
  );

  // Health history, oldest first, with the reasons of the point under the cursor (the latest to begin with).
  const history = [...(health?.history ?? [])].reverse();
  const trend = panel(`Health over the last ${HISTORY_DAYS} days`);
  trend.setAttribute('data-panel', 'health-history');
  root.append(trend);
  if (history.length === 0) {
    trend.append(h('p', { class: 'empty' }, 'No health history yet.'));
  } else {
    const reasons = h('div', { class: 'reasons-at' }, reasonsAt(history.at(-1)));
    lineChart(trend, {
      title: `Health score of ${account.name}`,
      xLabel: 'Date',
      yLabel: 'Score (0–100)',
      x: history.map((point) => new Date(point.computedAt).getTime() / 1000),
      series: [{ label: 'Score', values: history.map((point) => point.score) }],
      formatY: (value) => formatDecimal(value),
      yRange: [0, 100],
      // The whole window, so a short history is seen against the days it covers.
      xRange: [Date.now() / 1000 - HISTORY_DAYS * 86_400, Date.now() / 1000],
      onCursor: (index) => history[index] && reasons.replaceChildren(reasonsAt(history[index])),
      formulaLines: [
        'Each point is a recompute that changed the score, the status or its reasons. The score is the weighted mean of the component scores (usage, support, NPS/CSAT, engagement), re-weighted over the components that have data; Healthy ≥ 70, At risk 40–69, Critical < 40 by default.',
        'A point without a score is insufficient data: no customer signal to score. Hover or tap a point to read its reasons.',
      ],
      attributes: { 'data-chart': 'health-history' },
    });
    trend.append(
      h('h3', {}, 'Reasons at the point'),
      reasons,
      h(
        'details',
        { class: 'history-list' },
        h('summary', {}, `Every point (${history.length})`),
        h('ol', { reversed: true }, [...history].reverse().map((point) => h('li', {}, reasonsAt(point)))),
      ),
    );
  }

  if (health) {
    root.append(
      panel(
        'Components of the score',
        sortableTable({
          attributes: { 'data-table': 'components' },
          columns: [
            { label: 'Component', value: (component) => componentNames[component.name] ?? component.name },
            { label: 'Score', value: (component) => component.score, render: (component) => (component.score == null ? 'no data' : String(component.score)), numeric: true },
            { label: 'Weight', value: (component) => component.weight, render: (component) => `${formatDecimal(component.weight)} %`, numeric: true },
            { label: 'Facts', value: (component) => component.detail },
          ],
          rows: health.components,
        }),
        health.sentiment ? h('p', {}, `CSM sentiment: ${health.sentiment.sentiment}${health.sentiment.note ? ` — ${health.sentiment.note}` : ''} (${formatMoment(health.sentiment.recordedAt)}); shown beside the score, never part of it.`) : null,
        formula('Score = Σ component score × weight ÷ 100, the weights re-shared among the components that have data (a component without data has weight 0).'),
      ),
    );
  }

  root.append(
    panel(
      'Stage timeline',
      sortableTable({
        attributes: { 'data-table': 'transitions' },
        empty: 'No stage history.',
        columns: [
          { label: 'When', value: (move) => move.occurredAt, render: (move) => formatMoment(move.occurredAt) },
          { label: 'From', value: (move) => move.fromStage?.name ?? null, render: (move) => move.fromStage?.name ?? '—' },
          { label: 'To', value: (move) => move.toStage.name },
          { label: 'Direction', value: (move) => move.direction },
          { label: 'By', value: (move) => move.actorLabel },
          { label: 'Reason', value: (move) => move.reason ?? null, render: (move) => move.reason ?? '' },
        ],
        rows: account.transitions,
      }),
    ),
  );

  const handoff = account.handoff;
  root.append(
    panel(
      'Handoff',
      handoff
        ? h(
            'dl',
            { class: 'facts' },
            h('dt', {}, 'Status'),
            h('dd', {}, handoff.status.replace(/_/g, ' ')),
            h('dt', {}, 'Closed-won'),
            h('dd', {}, formatMoment(handoff.closedWonAt)),
            h('dt', {}, 'Kickoff due by'),
            h('dd', {}, formatMoment(handoff.slaDueAt)),
            h('dt', {}, 'Kickoff'),
            h('dd', {}, handoff.kickoffAt ? formatMoment(handoff.kickoffAt) : 'not scheduled'),
            h('dt', {}, 'Goals'),
            h('dd', {}, handoff.goals ?? '—'),
            h('dt', {}, 'Risks'),
            h('dd', {}, handoff.risks ?? '—'),
          )
        : h('p', { class: 'empty' }, 'This account was not closed-won through Lifeline: no handoff.'),
    ),
    panel(
      'Renewal',
      account.renewal
        ? h(
            'dl',
            { class: 'facts' },
            h('dt', {}, 'Contract end'),
            h('dd', {}, `${formatDay(account.renewal.contractEnd)} (${account.renewal.daysUntilContractEnd} days)`),
            h('dt', {}, 'Window opens'),
            h('dd', {}, formatDay(account.renewal.windowOpensOn)),
            h('dt', {}, 'Status'),
            h('dd', {}, account.renewal.status),
            h('dt', {}, 'Outcome'),
            h('dd', {}, account.renewal.outcome ?? '—'),
          )
        : h('p', { class: 'empty' }, 'No renewal recorded.'),
    ),
    panel(
      'Open tasks: what is being done',
      sortableTable({
        attributes: { 'data-table': 'account-tasks' },
        empty: 'No open task on this account.',
        columns: [
          { label: 'Due', value: (task) => task.dueOn, render: (task) => h('span', { class: task.overdue ? 'overdue' : null }, formatDay(task.dueOn), task.overdue ? ' (overdue)' : '') },
          { label: 'Task', value: (task) => task.title },
          { label: 'Owner', value: (task) => task.owner.name },
          { label: 'State', value: (task) => task.state },
          { label: 'Why', value: (task) => task.reason },
        ],
        rows: account.openTasks,
      }),
    ),
  );
}
