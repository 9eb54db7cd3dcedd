// Small helpers: building elements without innerHTML (device ids and agent messages are
// data, never markup), and formatting.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export function ago(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function dateTime(ms) {
  if (ms === null || ms === undefined) return '';
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function num(v) {
  return v === null || v === undefined ? '–' : Number(v).toLocaleString('en-US');
}

export function ms(v) {
  return v === null || v === undefined ? '–' : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ms`;
}

export function duration(s) {
  if (s === null || s === undefined) return '–';
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** SmokePing's idea: the median's colour says how much was lost. */
export const LOSS_CLASSES = [
  { max: 0, color: '#1a9641', label: '0%' },
  { max: 5, color: '#2b83ba', label: '≤5%' },
  { max: 20, color: '#7b3294', label: '≤20%' },
  { max: 50, color: '#f17c00', label: '≤50%' },
  { max: 99.999, color: '#d7191c', label: '<100%' },
  { max: 100, color: '#67000d', label: '100%' },
];

export function lossColor(loss) {
  if (loss === null || loss === undefined) return null;
  for (const c of LOSS_CLASSES) if (loss <= c.max) return c.color;
  return LOSS_CLASSES.at(-1).color;
}
