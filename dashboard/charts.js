// Charts drawn with uPlot: each in a <figure> with a title, axis labels and its formula a click away. uPlot draws
// on a canvas, sized to its container and redrawn when the container's width changes (laptop or phone).
import uPlot from '/dashboard/vendor/uPlot.esm.js';
import { formula, h } from './dom.js';

const palette = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

function chartFigure(title, formulaLines, attributes = {}) {
  const plot = h('div', { class: 'chart', role: 'img', 'aria-label': title });
  const figure = h('figure', { class: 'chart-figure', ...attributes }, h('figcaption', {}, h('h3', {}, title)), plot, formula(...formulaLines));
  return { figure, plot };
}

function widthOf(element) {
  return Math.max(280, Math.floor(element.clientWidth || element.parentElement?.clientWidth || 600));
}

/** Mounts a uPlot once its container is in the page, and keeps it as wide as the container. */
function mount(plot, options, data) {
  const chart = new uPlot({ ...options, width: widthOf(plot), height: options.height ?? 260 }, data, plot);
  const observer = new ResizeObserver(() => {
    if (!plot.isConnected) {
      observer.disconnect();
      chart.destroy();
      return;
    }
    const width = widthOf(plot);
    if (width !== chart.width) chart.setSize({ width, height: chart.height });
  });
  observer.observe(plot);
  return chart;
}

/**
 * A line chart over time. x: seconds since the epoch; series: { label, values, color? }. `onCursor(index)` hears the
 * point under the cursor, for showing what was true there.
 */
export function lineChart(container, { title, xLabel, yLabel, x, series, formatY, formulaLines, monthly = false, onCursor, attributes, xRange, yRange }) {
  const { figure, plot } = chartFigure(title, formulaLines, attributes);
  container.append(figure);
  const options = {
    scales: { x: xRange ? { time: true, range: xRange } : { time: true }, y: yRange ? { range: yRange } : {} },
    axes: [
      {
        label: xLabel,
        ...(monthly ? { values: (_u, splits) => splits.map((value) => new Intl.DateTimeFormat(undefined, { month: 'short', year: '2-digit', timeZone: 'UTC' }).format(new Date(value * 1000))) } : {}),
      },
      { label: yLabel, size: 70, values: (_u, splits) => splits.map((value) => formatY(value)) },
    ],
    series: [
      { label: xLabel, value: (_u, value) => (value == null ? '–' : new Intl.DateTimeFormat(undefined, monthly ? { month: 'long', year: 'numeric', timeZone: 'UTC' } : { dateStyle: 'medium' }).format(new Date(value * 1000))) },
      ...series.map((line, index) => ({
        label: line.label,
        stroke: line.color ?? palette[index % palette.length],
        width: 2,
        spanGaps: false,
        points: { show: true, size: 6 },
        value: (_u, value) => (value == null ? '–' : formatY(value)),
      })),
    ],
    hooks: onCursor ? { setCursor: [(u) => u.cursor.idx != null && onCursor(u.cursor.idx)] } : {},
  };
  return mount(plot, options, [x, ...series.map((line) => line.values)]);
}

/**
 * A waterfall: the first and last steps are totals from zero, the ones between float from the running total up
 * (an increase) or down (a decrease). steps: { label, short?, value, kind: 'total' | 'up' | 'down' }.
 */
export function waterfallChart(container, { title, xLabel, yLabel, steps, formatY, formulaLines, attributes }) {
  const spans = [];
  let running = 0;
  for (const step of steps) {
    if (step.kind === 'total') {
      spans.push([0, step.value]);
      running = step.value;
    } else if (step.kind === 'up') {
      spans.push([running, running + step.value]);
      running += step.value;
    } else {
      spans.push([running - step.value, running]);
      running -= step.value;
    }
  }
  const top = Math.max(1, ...spans.map(([, high]) => high));
  // Movements are small beside the totals, so the axis starts just under the lowest point the bars reach (the
  // totals are then drawn from the axis up); the chart's caption says where the axis starts.
  const reached = spans.flatMap(([low, high], index) => (steps[index].kind === 'total' ? [high] : [low, high]));
  const lowest = Math.min(...reached);
  const spread = Math.max(top - lowest, top * 0.02);
  const floor = Math.max(0, lowest - spread * 1.5);
  const { figure, plot } = chartFigure(title, formulaLines, attributes);
  if (floor > 0) plot.after(h('p', { class: 'axis-note' }, `The MRR axis starts at ${formatY(floor)}, not zero, so the movements show beside the totals.`));
  container.append(figure);
  const colors = { total: '#64748b', up: '#16a34a', down: '#dc2626' };
  const x = steps.map((_step, index) => index);
  const options = {
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false, range: [-0.5, steps.length - 0.5] }, y: { range: [floor, top + spread * 0.5] } },
    axes: [
      // On a phone the labels would overlap: each step may carry a short one.
      { label: xLabel, splits: () => x, values: (u, splits) => splits.map((index) => (u.width < 560 ? (steps[index]?.short ?? steps[index]?.label) : steps[index]?.label) ?? ''), gap: 4 },
      { label: yLabel, size: 70, values: (_u, splits) => splits.map((value) => formatY(value)) },
    ],
    series: [{}, { label: yLabel, stroke: 'transparent', paths: () => null, points: { show: false } }],
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const slot = u.valToPos(1, 'x', true) - u.valToPos(0, 'x', true);
          const width = slot * 0.6;
          ctx.save();
          steps.forEach((step, index) => {
            const [low, high] = spans[index];
            const left = u.valToPos(index, 'x', true) - width / 2;
            const y = u.valToPos(high, 'y', true);
            ctx.fillStyle = colors[step.kind];
            ctx.fillRect(left, y, width, Math.max(1, u.valToPos(Math.max(low, floor), 'y', true) - y));
          });
          ctx.restore();
        },
      ],
    },
  };
  return mount(plot, options, [x, steps.map((_step, index) => spans[index][1])]);
}

/** Bars of a share drawn as CSS widths (through the CSSOM, which the page's style policy allows), for table cells. */
export function shareBar(share, label) {
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${Math.round(Math.min(1, Math.max(0, share ?? 0)) * 100)}%`;
  return h('span', { class: 'bar', title: label }, fill);
}
