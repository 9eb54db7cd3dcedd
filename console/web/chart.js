import uPlot from './vendor/uplot.js';
import { lossColor, ms } from './dom.js';

// One SmokePing-style chart per probe: grey smoke of the per-packet RTT spread (min–max,
// p10–p90, p25–p75, darker towards the middle), the median as a line coloured by the
// round's loss, and a loss strip along the bottom. Null rows (no data) break every series,
// so an outage is a gap, never a straight line across it.

const SMOKE = ['rgba(80,80,80,0.10)', 'rgba(80,80,80,0.18)', 'rgba(80,80,80,0.30)'];
const MEDIAN = 4;
const LOSS = 8;

/**
 * The RTT axis: from a little below 0 (the loss strip lives there, under the lowest median) to
 * above the highest median and the bulk of the smoke. A rare spike may run off the top rather
 * than squash a day of 1 ms medians flat.
 */
function yRange(data) {
  const top = (col) => {
    const v = (data[col] ?? []).filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
    return v.length ? v[Math.min(v.length - 1, Math.floor(v.length * 0.98))] : 0;
  };
  let hi = 0;
  for (const v of data[MEDIAN] ?? []) if (v !== null && v !== undefined && v > hi) hi = v;
  hi = Math.max(hi * 1.15, top(2) * 1.15);
  if (!(hi > 0)) hi = 1;
  return [-hi * 0.08, hi];
}

function columns(p) {
  return [p.t, p.max, p.p90, p.p75, p.median, p.p25, p.p10, p.min, p.loss];
}

function hidden(label) {
  return { label, stroke: 'transparent', width: 0, points: { show: false }, value: (u, v) => ms(v) };
}

function drawMedianAndLoss(u) {
  const { ctx, bbox } = u;
  const t = u.data[0];
  const med = u.data[MEDIAN];
  const loss = u.data[LOSS];
  const dpr = uPlot.pxRatio;
  const x = (i) => u.valToPos(t[i], 'x', true);
  const y = (v) => u.valToPos(v, 'y', true);
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  ctx.lineWidth = 2 * dpr;
  ctx.lineCap = 'round';
  for (let i = 0; i < t.length; i++) {
    if (med[i] === null || med[i] === undefined) continue;
    const prev = i > 0 && med[i - 1] !== null && med[i - 1] !== undefined;
    const next = i + 1 < t.length && med[i + 1] !== null && med[i + 1] !== undefined;
    ctx.strokeStyle = lossColor(loss[i]) ?? '#1a9641';
    ctx.beginPath();
    if (prev) {
      ctx.moveTo(x(i - 1), y(med[i - 1]));
      ctx.lineTo(x(i), y(med[i]));
    } else if (!next) {
      // A lone round between gaps is still drawn: a short dash.
      ctx.moveTo(x(i) - 2 * dpr, y(med[i]));
      ctx.lineTo(x(i) + 2 * dpr, y(med[i]));
    }
    ctx.stroke();
  }
  // The loss strip: one block per row, as wide as halfway to its neighbours.
  const h = 5 * dpr;
  const top = bbox.top + bbox.height - h;
  for (let i = 0; i < t.length; i++) {
    const c = lossColor(loss[i]);
    if (!c) continue;
    const x0 = i > 0 ? (x(i - 1) + x(i)) / 2 : x(i) - dpr;
    const x1 = i + 1 < t.length ? (x(i) + x(i + 1)) / 2 : x(i) + dpr;
    ctx.fillStyle = c;
    ctx.fillRect(x0, top, Math.max(dpr, x1 - x0), h);
  }
  ctx.restore();
}

export function smokeChart(container, probe, { from, to, height, onZoom }) {
  const opts = {
    width: Math.max(280, container.clientWidth),
    height,
    scales: {
      x: { time: true, range: () => [state.from / 1000, state.to / 1000] },
      y: { range: (u) => yRange(u.data) },
      loss: { range: [0, 100] },
    },
    series: [
      {},
      hidden('max'), hidden('p90'), hidden('p75'),
      { label: 'median', stroke: '#1a9641', width: 0, points: { show: false }, value: (u, v) => ms(v) },
      hidden('p25'), hidden('p10'), hidden('min'),
      { label: 'loss', scale: 'loss', stroke: 'transparent', width: 0, points: { show: false }, value: (u, v) => (v === null || v === undefined ? '–' : `${v}%`) },
    ],
    bands: [
      { series: [1, 7], fill: SMOKE[0] },
      { series: [2, 6], fill: SMOKE[1] },
      { series: [3, 5], fill: SMOKE[2] },
    ],
    axes: [{}, { values: (u, vals) => vals.map((v) => (v < 0 ? '' : `${v} ms`)), size: 64 }],
    cursor: { drag: { x: true, y: false, setScale: false }, sync: { key: 'fleetprobe' } },
    hooks: {
      draw: [drawMedianAndLoss],
      setSelect: [(u) => {
        if (u.select.width < 8) return;
        const a = u.posToVal(u.select.left, 'x') * 1000;
        const b = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        onZoom(a, b);
      }],
    },
  };
  const state = { from, to };
  const plot = new uPlot(opts, columns(probe), container);
  const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(280, container.clientWidth), height }));
  ro.observe(container);
  return {
    update(p, f, t) {
      state.from = f;
      state.to = t;
      plot.setData(columns(p));
    },
    destroy() {
      ro.disconnect();
      plot.destroy();
    },
  };
}
