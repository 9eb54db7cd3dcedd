import { fleetApi } from './api.js';
import { smokeChart } from './chart.js';
import { commandsPanel } from './commands.js';
import { configEditor } from './config-editor.js';
import { ago, dateTime, duration, h, LOSS_CLASSES, ms, num } from './dom.js';
import { configStatus } from './fleet.js';

// A device's page: its state, the latency history per probe, commands and the config.

const RANGES = [
  { label: '1 h', ms: 3600e3 },
  { label: '1 d', ms: 86400e3 },
  { label: '7 d', ms: 7 * 86400e3 },
  { label: '30 d', ms: 30 * 86400e3 },
  { label: '1 y', ms: 365 * 86400e3 },
];
const REFRESH_MS = 5000;
const MIN_SPAN_MS = 60e3;

/** SmokePing's legend in one line: the median's average, latest and extremes, and the loss, over the range shown. */
function summary(p) {
  const med = p.median.filter((v) => v !== null);
  const loss = p.loss.filter((v) => v !== null);
  if (med.length === 0 && loss.length === 0) return '';
  const avg = (a) => a.reduce((s, v) => s + v, 0) / a.length;
  const parts = [];
  if (med.length) parts.push(`median avg ${ms(avg(med))}, now ${ms(med.at(-1))} (${ms(med.reduce((a, b) => Math.min(a, b)))} – ${ms(med.reduce((a, b) => Math.max(a, b)))})`);
  if (loss.length) parts.push(`loss avg ${round(avg(loss))}%, max ${round(loss.reduce((a, b) => Math.max(a, b)))}%`);
  return ` · ${parts.join(' · ')}`;
}

function round(v) {
  return v >= 10 ? Math.round(v) : Math.round(v * 10) / 10;
}

function resolution(stepS) {
  return stepS === 0 ? 'every round' : stepS === 300 ? '5-minute buckets' : '1-hour buckets';
}

export function deviceView(root, nav, id) {
  nav.replaceChildren(h('a', { href: '#/' }, 'Fleet'), ' / ', h('span', {}, id));
  const phone = () => window.matchMedia('(max-width: 700px)').matches;
  const range = { span: RANGES[0].ms, to: null };
  const charts = new Map();

  const title = h('h1', {}, id, ' ', h('span', { class: 'badge', id: 'device-presence' }, '…'));
  const facts = h('dl', { class: 'facts', id: 'device-facts' });
  const rangeLabel = h('span', { class: 'muted', id: 'range-label' });
  const rangeButtons = RANGES.map((r) => h('button', {
    type: 'button', class: 'range', dataset: { range: r.label },
    onclick: () => { range.span = r.ms; range.to = null; loadChart(); },
  }, r.label));
  const shift = (f) => () => { const to = (range.to ?? Date.now()) + f * range.span; range.to = to >= Date.now() ? null : to; loadChart(); };
  // Around the middle of the window; a window that ends now keeps ending now (and following the clock).
  const zoom = (f) => () => {
    const span = Math.max(MIN_SPAN_MS, Math.min(400 * 86400e3, range.span * f));
    if (range.to !== null) {
      const nt = range.to - range.span / 2 + span / 2;
      range.to = nt >= Date.now() ? null : nt;
    }
    range.span = span;
    loadChart();
  };
  const controls = h('div', { class: 'chart-controls' },
    h('div', { class: 'group', role: 'group', 'aria-label': 'Range' }, rangeButtons),
    h('div', { class: 'group', role: 'group', 'aria-label': 'Pan and zoom' },
      h('button', { type: 'button', title: 'Earlier', 'aria-label': 'Earlier', onclick: shift(-0.5) }, '◀'),
      h('button', { type: 'button', title: 'Later', 'aria-label': 'Later', onclick: shift(0.5) }, '▶'),
      h('button', { type: 'button', title: 'Zoom in', 'aria-label': 'Zoom in', onclick: zoom(0.5) }, '+'),
      h('button', { type: 'button', title: 'Zoom out', 'aria-label': 'Zoom out', onclick: zoom(2) }, '−'),
      h('button', { type: 'button', title: 'Now', onclick: () => { range.to = null; loadChart(); } }, 'Now')),
    rangeLabel);
  const legend = h('p', { class: 'loss-legend' }, 'Median coloured by loss: ',
    LOSS_CLASSES.map((c) => h('span', { class: 'swatch', dataset: { color: c.color } }, c.label)),
    h('span', { class: 'muted' }, ' · grey: RTT spread (min–max, p10–p90, p25–p75) · drag across a chart to zoom'));
  for (const s of legend.querySelectorAll('.swatch')) s.style.setProperty('--c', s.dataset.color);
  const chartBox = h('div', { class: 'charts', id: 'charts' });
  const chartMsg = h('p', { class: 'muted', id: 'chart-message' });

  // Each outbox database of the device is a stream of seqs; missing seqs are results lost or still on their way.
  const streamsBody = h('tbody');
  const streamsBox = h('details', { class: 'panel', id: 'streams' }, h('summary', {}, h('h2', { class: 'inline' }, 'Streams')),
    h('table', { class: 'commands' }, h('thead', {}, h('tr', {}, ['Stream', 'Results', 'Seqs', 'Duplicates', 'Missing', 'Last result'].map((t) => h('th', {}, t)))), streamsBody));
  function renderStreams(detail) {
    streamsBody.replaceChildren(...detail.streams.map((s) => h('tr', {},
      h('td', { 'data-label': 'Stream', class: 'reply' }, s.stream),
      h('td', { 'data-label': 'Results', class: 'num' }, num(s.results)),
      h('td', { 'data-label': 'Seqs' }, `${s.firstSeq}–${s.lastSeq}`),
      h('td', { 'data-label': 'Duplicates', class: 'num' }, num(s.duplicates)),
      h('td', { 'data-label': 'Missing', class: `num ${s.missing > 0 ? 'warn' : ''}` }, s.missing > 0 ? `${num(s.missing)} in ${num(s.gaps)} gap(s)` : '0'),
      h('td', { 'data-label': 'Last result' }, dateTime(s.lastAt)))));
  }

  const cmds = commandsPanel(id);
  const editor = configEditor(id);
  root.replaceChildren(h('section', { class: 'device-view' },
    title, facts,
    h('section', { class: 'panel' }, h('h2', {}, 'Latency'), controls, legend, chartMsg, chartBox),
    h('section', { class: 'panel', id: 'commands' }, h('h2', {}, 'Commands'), cmds.el),
    h('section', { class: 'panel', id: 'config' }, h('h2', {}, 'Config'), editor.el),
    streamsBox,
    h('p', { class: 'remove' }, h('button', { type: 'button', id: 'device-remove', class: 'danger', onclick: remove }, 'Remove this device'))));

  async function remove() {
    if (!window.confirm(`Remove ${id}? Its credentials, results and commands are deleted, and its connection is ended.`)) return;
    try {
      await fleetApi.remove(id);
      location.hash = '#/';
    } catch (err) {
      window.alert(`Not removed: ${err.message}`);
    }
  }

  function renderFacts(detail) {
    const d = detail.device;
    const p = d.online === true ? ['online', 'good'] : d.online === false ? ['offline', 'bad'] : ['unknown', ''];
    const badge = title.querySelector('#device-presence');
    badge.textContent = p[0];
    badge.className = `badge ${p[1]}`;
    const c = configStatus(d.config);
    const rows = [
      ['Last seen', ago(d.last_seen ? Date.parse(d.last_seen) : null, detail.now)],
      ['Agent', d.agent_version ?? '–'],
      ['Monitoring', d.monitoring_enabled === null ? '–' : d.monitoring_enabled ? 'running' : 'stopped'],
      ['Probes', num(d.probes)],
      ['Config', h('span', { class: `config ${c.tone}`, id: 'fact-config' }, c.text)],
      ['Outbox', d.outbox === null ? '–' : `${num(d.outbox.rows)} row${d.outbox.rows === 1 ? '' : 's'}${d.outbox.oldest ? `, oldest ${d.outbox.oldest}` : ''}`],
      ['Last delivery', d.last_delivery ? ago(Date.parse(d.last_delivery), detail.now) : 'never'],
      ['Dropped', num(d.dropped_total)],
      ['Uptime', duration(d.uptime_s)],
      ['Skipped rounds', num(detail.state?.skipped_rounds)],
      ['Refused messages', num(detail.state?.rejected_messages)],
      ['Last error', d.last_error ? `${d.last_error.message} (${d.last_error.at})` : 'none'],
    ];
    renderStreams(detail);
    facts.replaceChildren(...rows.map(([k, v]) => h('div', { class: k === 'Config' || k === 'Last error' ? 'wide' : null }, h('dt', {}, k), h('dd', {}, v))));
  }

  let chartSeq = 0;
  async function loadChart() {
    const seq = ++chartSeq;
    const to = range.to ?? Date.now();
    const from = to - range.span;
    for (const b of rangeButtons) b.setAttribute('aria-pressed', String(RANGES.find((r) => r.label === b.dataset.range).ms === range.span));
    let data;
    try {
      data = await fleetApi.chart(id, from, to);
    } catch (err) {
      chartMsg.textContent = `Could not load the history: ${err.message}`;
      return;
    }
    if (seq !== chartSeq) return;
    rangeLabel.textContent = `${dateTime(from)} – ${range.to === null ? 'now' : dateTime(to)} · ${resolution(data.stepS)}`;
    chartMsg.textContent = data.probes.length === 0 ? 'No results in this range yet.' : data.truncated ? 'Too many rounds for this range: zoom in to see all.' : '';
    const names = new Set(data.probes.map((p) => p.name));
    for (const [name, c] of charts) if (!names.has(name)) { c.box.remove(); c.chart.destroy(); charts.delete(name); }
    for (const p of data.probes) {
      let c = charts.get(p.name);
      if (!c) {
        const plotBox = h('div', { class: 'plot' });
        const target = h('span', { class: 'muted' });
        const stats = h('span', { class: 'stats muted' });
        const box = h('figure', { class: 'chart', dataset: { probe: p.name } }, h('figcaption', {}, p.name, target, stats), plotBox);
        chartBox.append(box);
        const chart = smokeChart(plotBox, p, { from, to, height: phone() ? 200 : 260, onZoom: (a, b) => { range.span = Math.max(MIN_SPAN_MS, b - a); range.to = b >= Date.now() ? null : b; loadChart(); } });
        c = { box, chart, target, stats };
        charts.set(p.name, c);
      } else {
        c.chart.update(p, from, to);
      }
      c.target.textContent = ` → ${p.target}`;
      c.stats.textContent = summary(p);
      c.box.dataset.points = String(p.median.filter((v) => v !== null).length);
      // Rows without any data (not even loss): where the chart breaks.
      c.box.dataset.gaps = String(p.loss.filter((v) => v === null).length);
    }
  }

  let stopped = false;
  let timer = null;
  let ticks = 0;
  async function refresh() {
    try {
      const detail = await fleetApi.device(id);
      renderFacts(detail);
      cmds.update(detail);
      editor.update(detail);
    } catch (err) {
      facts.replaceChildren(h('p', { class: 'error' }, `Could not load the device: ${err.message}`));
    }
    // A live range follows the clock: up to an hour every 5 s, up to a day every 30 s, longer
    // ones (whose newest bucket changes every 5 minutes at most) every minute.
    ticks++;
    const every = range.span <= 3600e3 ? 1 : range.span <= 86400e3 ? 6 : 12;
    if (ticks > 1 && range.to === null && ticks % every === 0) await loadChart();
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }
  loadChart();
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const c of charts.values()) c.chart.destroy();
  };
}
