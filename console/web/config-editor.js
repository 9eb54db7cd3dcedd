import { fleetApi } from './api.js';
import { diffLines, hunks } from './diff.js';
import { h } from './dom.js';
import { locatePaths, problemLine } from './json-locate.js';

// The device's operational config ({agent_operations, probes}) as JSON: checked as you type
// by the agent's own schema (through the console), problems marked on their lines, a diff
// against what the device applied, push, and the device's verdict when it comes back.

const TEMPLATE = { agent_operations: { monitoring_enabled: true, probe_interval: 60 }, probes: [] };

function pretty(doc) {
  return JSON.stringify(doc, null, 2);
}

function withoutVersion(doc) {
  const { version: _v, ...rest } = doc ?? {};
  return rest;
}

export function configEditor(id) {
  const text = h('textarea', { id: 'config-text', spellcheck: 'false', wrap: 'off', rows: 18, 'aria-label': 'Config JSON', autocomplete: 'off' });
  const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
  const problemsList = h('ul', { class: 'problems', id: 'config-problems' });
  const verdict = h('p', { id: 'config-verdict', role: 'status' });
  const baseLabel = h('span', { class: 'muted', id: 'config-base' });
  const diffBox = h('pre', { class: 'diff', id: 'config-diff' });
  const pushBtn = h('button', { type: 'button', id: 'config-push', class: 'primary' }, 'Push');
  const resetBtn = h('button', { type: 'button', id: 'config-reset', title: 'Load the latest pushed version into the editor' }, 'Reset to latest pushed');
  const el = h('div', { class: 'config-editor' },
    h('div', { class: 'editor' }, gutter, text),
    problemsList,
    h('div', { class: 'buttons' }, pushBtn, resetBtn, verdict),
    h('details', { class: 'diff-box', open: true }, h('summary', {}, 'Changes ', baseLabel), diffBox));

  const st = { loaded: false, base: null, baseLabel: '', problems: [], valid: false, pushed: null, detail: null, seq: 0 };

  function renderGutter() {
    const lines = text.value.split('\n').length;
    const bad = new Map();
    const paths = locatePaths(text.value);
    for (const p of st.problems) {
      const l = problemLine(text.value, p, paths);
      bad.set(l, [...(bad.get(l) ?? []), p.text]);
    }
    gutter.replaceChildren(...Array.from({ length: lines }, (_, k) => {
      const msgs = bad.get(k + 1);
      return h('span', { class: msgs ? 'bad' : '', title: msgs ? msgs.join('\n') : null }, `${msgs ? '●' : ''}${k + 1}\n`);
    }));
    gutter.scrollTop = text.scrollTop;
    problemsList.replaceChildren(...st.problems.map((p) => {
      const line = problemLine(text.value, p, paths);
      return h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => goToLine(line) }, `line ${line}`), `: ${p.text}`);
    }));
  }

  function goToLine(line) {
    const lines = text.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((s, l) => s + l.length + 1, 0);
    text.focus();
    text.setSelectionRange(start, start + (lines[line - 1] ?? '').length);
  }

  function detailNote() {
    const c = st.detail?.device.config;
    if (c && c.applied_version !== null) return 'Nothing to compare with.';
    return 'No config from the console applied yet: the device runs the probes of its local config file; a push replaces them.';
  }

  function renderDiff() {
    if (st.base === null) {
      diffBox.replaceChildren(detailNote());
      return;
    }
    let mine;
    try { mine = pretty(JSON.parse(text.value)); } catch { mine = text.value; }
    const d = diffLines(pretty(st.base).split('\n'), mine.split('\n'));
    if (d === null) { diffBox.replaceChildren('Too large to compare.'); return; }
    const rows = hunks(d);
    if (rows.length === 0) { diffBox.replaceChildren('No changes.'); return; }
    diffBox.replaceChildren(...rows.map(([op, line]) => h('span', { class: op === '+' ? 'add' : op === '-' ? 'del' : op === '…' ? 'skip' : '' }, `${op} ${line}\n`)));
  }

  let timer = null;
  async function validate() {
    const seq = ++st.seq;
    try {
      JSON.parse(text.value);
    } catch (err) {
      st.problems = [{ path: '', reason: err.message, text: `invalid JSON: ${err.message}` }];
      st.valid = false;
      pushBtn.disabled = true;
      renderGutter();
      renderDiff();
      return;
    }
    try {
      await fleetApi.check(id, text.value);
      if (seq !== st.seq) return;
      st.problems = [];
      st.valid = true;
    } catch (err) {
      if (seq !== st.seq) return;
      st.valid = false;
      const listed = err.data?.problems;
      if (err.status === 422 && Array.isArray(listed)) st.problems = listed.map((p) => ({ ...p, text: p.path ? `${p.path}: ${p.reason}` : p.reason }));
      else if (err.status === 409) st.problems = [{ path: 'version', reason: err.message, text: err.message }];
      else st.problems = [{ path: '', reason: err.message, text: `could not check: ${err.message}` }];
    }
    pushBtn.disabled = !st.valid;
    renderGutter();
    renderDiff();
  }
  // Not pushable until this text has been checked.
  text.addEventListener('input', () => { pushBtn.disabled = true; clearTimeout(timer); timer = setTimeout(validate, 250); renderGutter(); });
  text.addEventListener('scroll', () => { gutter.scrollTop = text.scrollTop; });

  pushBtn.addEventListener('click', async () => {
    let doc = null;
    try { doc = JSON.parse(text.value); } catch { /* the check refuses it */ }
    // The template starts without probes; pushing it as is would silence the device.
    if (doc && Array.isArray(doc.probes) && doc.probes.length === 0 && !window.confirm('This config has no probes: the device will stop measuring. Push it anyway?')) return;
    pushBtn.disabled = true;
    verdict.className = '';
    verdict.textContent = 'Pushing…';
    try {
      const r = await fleetApi.pushConfig(id, text.value);
      st.pushed = r?.version ?? null;
      verdict.className = 'warn';
      verdict.textContent = `v${st.pushed ?? '?'} ${r?.published ? 'sent' : 'stored (the broker did not take it yet)'}; waiting for the device…`;
      if (st.detail) judge(st.detail);
    } catch (err) {
      verdict.className = 'bad';
      verdict.textContent = `Not pushed: ${err.message}`;
    } finally {
      pushBtn.disabled = !st.valid;
    }
  });

  function load(detail) {
    const latest = detail.latest_config;
    text.value = pretty(latest ? withoutVersion(latest.document) : TEMPLATE);
    st.loaded = true;
    validate();
  }
  resetBtn.addEventListener('click', () => st.detail && load(st.detail));

  /** The device's verdict on the version we pushed, once its state says so. */
  function judge(detail) {
    const c = detail.device.config;
    const v = st.pushed;
    if (v === null) return;
    if (c.error && c.error.version === v && !(c.applied_version !== null && c.applied_version >= v)) {
      verdict.className = 'bad';
      const more = c.error.problems.length > 1 ? ` (+${c.error.problems.length - 1} more: ${c.error.problems.slice(1).join('; ')})` : '';
      verdict.textContent = `v${v} rejected by the device: ${c.error.path ? `${c.error.path}: ` : ''}${c.error.reason}${more}`;
    } else if (c.applied_version !== null && c.applied_version >= v) {
      verdict.className = 'good';
      verdict.textContent = c.applied_version === v ? `v${v} applied by the device` : `v${v} superseded: v${c.applied_version} applied`;
    }
  }

  function update(detail) {
    st.detail = detail;
    if (!st.loaded) load(detail);
    const c = detail.device.config;
    const applied = detail.applied_config;
    if (applied) {
      st.base = withoutVersion(applied.document);
      st.baseLabel = `against v${applied.version}, applied by the device`;
    } else {
      st.base = null;
      st.baseLabel = c.applied_version !== null ? `(v${c.applied_version} is applied, but this console has no copy of it)` : '';
    }
    baseLabel.textContent = st.baseLabel;
    renderDiff();
    judge(detail);
  }

  return { el, update };
}
