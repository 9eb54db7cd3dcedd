import { ms, svg } from './dom.js';

// A small SVG line of the latency per 5-minute bucket; a missing bucket breaks the line.

export function sparkline(values, { width = 120, height = 28 } = {}) {
  const present = values.filter((v) => v !== null);
  const el = svg('svg', { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  const last = present.at(-1);
  el.setAttribute('aria-label', present.length ? `latest ${ms(last)}` : 'no data');
  if (present.length === 0) return el;
  const lo = Math.min(...present);
  const hi = Math.max(...present);
  const span = hi - lo || 1;
  const pad = 2;
  const dx = (width - 2 * pad) / Math.max(1, values.length - 1);
  const x = (i) => (pad + i * dx).toFixed(1);
  const y = (v) => (height - 3 - ((v - lo) / span) * (height - 6)).toFixed(1);
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) { pen = false; return; }
    const alone = !pen && (values[i + 1] ?? null) === null;
    // A lone bucket between gaps is a dot, not nothing.
    if (alone) el.append(svg('circle', { cx: x(i), cy: y(v), r: 1.6, fill: 'currentColor' }));
    else d += `${pen ? 'L' : 'M'}${x(i)} ${y(v)}`;
    pen = true;
  });
  el.prepend(svg('path', { d, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5, 'stroke-linejoin': 'round' }));
  const t = svg('title');
  t.textContent = present.length ? `median RTT: ${ms(lo)} – ${ms(hi)}, latest ${ms(last)}` : 'no data';
  el.append(t);
  return el;
}
