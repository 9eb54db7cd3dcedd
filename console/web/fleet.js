import { fleetApi } from './api.js';
import { ago, h, num } from './dom.js';
import { registerForm } from './register.js';
import { sparkline } from './sparkline.js';

// The fleet list: one row per device, refreshed every 5 s; filter and sort stay as set.

const REFRESH_MS = 5000;

/** How a device's config stands, in words and a tone for colour. */
export function configStatus(c) {
  if (!c) return { text: '–', tone: '' };
  const err = c.error;
  const applied = c.applied_version !== null ? ` (v${c.applied_version} applied)` : '';
  if (c.status === 'rejected' && err) {
    return { text: `v${err.version ?? '?'} rejected: ${err.path ? `${err.path}: ` : ''}${err.reason}${applied}`, tone: 'bad' };
  }
  if (c.status === 'applied') return { text: `v${c.applied_version} applied`, tone: 'good' };
  if (c.status === 'pending') return { text: `v${c.pushed_version} ${c.published ? 'sent, pending' : 'not sent yet'}${applied}`, tone: 'warn' };
  if (err) return { text: `v${err.version ?? '?'} rejected: ${err.reason}`, tone: 'bad' };
  if (c.applied_version !== null) return { text: `v${c.applied_version} applied`, tone: 'good' };
  if (c.source === 'file') return { text: 'local file', tone: '' };
  return { text: '–', tone: '' };
}

function presence(d) {
  if (d.online === true) return { text: d.monitoring_enabled === false ? 'online, stopped' : 'online', tone: d.monitoring_enabled === false ? 'warn' : 'good' };
  if (d.online === false) return { text: 'offline', tone: 'bad' };
  return { text: 'unknown', tone: '' };
}

function hasProblem(d) {
  return d.online !== true || configStatus(d.config).tone === 'bad' || (d.dropped_total ?? 0) > 0 || d.last_error !== null;
}

const COLUMNS = [
  { key: 'id', label: 'Device', value: (d) => d.id },
  { key: 'status', label: 'Status', value: (d) => presence(d).text },
  { key: 'lastSeen', label: 'Last seen', value: (d) => (d.last_seen ? Date.parse(d.last_seen) : -1) },
  { key: 'agent', label: 'Agent', value: (d) => d.agent_version ?? '' },
  { key: 'config', label: 'Config', value: (d) => configStatus(d.config).text },
  { key: 'outbox', label: 'Outbox', value: (d) => d.outbox?.rows ?? -1 },
  { key: 'dropped', label: 'Dropped', value: (d) => d.dropped_total ?? -1 },
  { key: 'latency', label: 'Latency, 6 h', value: (d) => lastValue(d.spark.values) ?? Infinity },
];

function lastValue(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

export function fleetView(root, nav) {
  const state = { filter: '', show: 'all', sort: 'id', dir: 1, data: null, error: null };
  nav.replaceChildren(h('span', {}, 'Fleet'));

  const filter = h('input', { type: 'search', placeholder: 'Filter: id, version, status…', 'aria-label': 'Filter devices', id: 'fleet-filter' });
  filter.addEventListener('input', () => { state.filter = filter.value.trim().toLowerCase(); render(); });
  const show = h('select', { 'aria-label': 'Show', id: 'fleet-show' },
    h('option', { value: 'all' }, 'All devices'), h('option', { value: 'online' }, 'Online'),
    h('option', { value: 'offline' }, 'Offline'), h('option', { value: 'problems' }, 'With problems'));
  show.addEventListener('change', () => { state.show = show.value; render(); });
  // The column headers sort on a desktop; a phone hides them and gets this instead.
  const sortBy = h('select', { 'aria-label': 'Sort by', class: 'phone-only', id: 'fleet-sort' },
    COLUMNS.flatMap((c) => [h('option', { value: `${c.key}:1` }, `${c.label} ↑`), h('option', { value: `${c.key}:-1` }, `${c.label} ↓`)]));
  sortBy.addEventListener('change', () => { const [k, d] = sortBy.value.split(':'); state.sort = k; state.dir = Number(d); render(); });
  const counts = h('span', { class: 'muted', id: 'fleet-counts' });
  const head = h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col', dataset: { key: c.key } },
    h('button', { class: 'sort', type: 'button', onclick: () => { state.dir = state.sort === c.key ? -state.dir : 1; state.sort = c.key; render(); } }, c.label))));
  const body = h('tbody');
  const table = h('table', { class: 'fleet', id: 'fleet-table' }, h('thead', {}, head), body);
  const message = h('p', { class: 'muted' });
  root.replaceChildren(h('section', { class: 'fleet-view' }, h('div', { class: 'toolbar' }, filter, show, sortBy, counts), message, table,
    registerForm(() => { clearTimeout(timer); load(); })));

  function visible() {
    const list = (state.data?.devices ?? []).filter((d) => {
      if (state.show === 'online' && d.online !== true) return false;
      if (state.show === 'offline' && d.online === true) return false;
      if (state.show === 'problems' && !hasProblem(d)) return false;
      if (!state.filter) return true;
      const hay = [d.id, d.agent_version ?? '', presence(d).text, configStatus(d.config).text].join(' ').toLowerCase();
      return hay.includes(state.filter);
    });
    const col = COLUMNS.find((c) => c.key === state.sort) ?? COLUMNS[0];
    return list.sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true });
      return (r || a.id.localeCompare(b.id)) * state.dir;
    });
  }

  function render() {
    sortBy.value = `${state.sort}:${state.dir}`;
    for (const th of head.children) {
      th.setAttribute('aria-sort', th.dataset.key === state.sort ? (state.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    if (state.error) message.textContent = `Could not load the fleet: ${state.error}`;
    else if (!state.data) message.textContent = 'Loading…';
    else if (state.data.devices.length === 0) message.textContent = 'No devices registered yet (fleetprobe-console devices add).';
    else message.textContent = '';
    if (!state.data) return;
    const now = state.data.now;
    const rows = visible();
    const online = state.data.devices.filter((d) => d.online === true).length;
    counts.textContent = `${rows.length} shown · ${online} of ${state.data.devices.length} online`;
    body.replaceChildren(...rows.map((d) => {
      const p = presence(d);
      const c = configStatus(d.config);
      return h('tr', { dataset: { device: d.id } },
        h('td', { 'data-label': 'Device' }, h('a', { href: `#/device/${encodeURIComponent(d.id)}` }, d.id)),
        h('td', { 'data-label': 'Status' }, h('span', { class: `badge ${p.tone}` }, p.text)),
        h('td', { 'data-label': 'Last seen', title: d.last_seen ?? '' }, ago(d.last_seen ? Date.parse(d.last_seen) : null, now)),
        h('td', { 'data-label': 'Agent' }, d.agent_version ?? '–'),
        h('td', { 'data-label': 'Config', class: `config ${c.tone}` }, c.text),
        h('td', { 'data-label': 'Outbox', class: 'num' }, num(d.outbox?.rows)),
        h('td', { 'data-label': 'Dropped', class: `num ${(d.dropped_total ?? 0) > 0 ? 'bad' : ''}` }, num(d.dropped_total)),
        h('td', { 'data-label': 'Latency, 6 h' }, sparkline(d.spark.values)),
      );
    }));
  }

  let timer = null;
  let stopped = false;
  async function load() {
    try {
      state.data = await fleetApi.fleet();
      state.error = null;
    } catch (err) {
      state.error = err.message;
    }
    render();
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }
  render();
  load();
  return () => { stopped = true; clearTimeout(timer); };
}
