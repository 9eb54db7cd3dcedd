// Where a JSON path (as the agent's schema reports it: probes[0].count) sits in the editor's
// text, so that a problem can be shown on its line. A forgiving scanner: it stops at the first
// syntax error and keeps what it found until then.

export function locatePaths(text) {
  const map = new Map();
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const str = () => {
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    const raw = text.slice(i, j + 1);
    i = j + 1;
    try { return JSON.parse(raw); } catch { return raw.slice(1, -1); }
  };
  const value = (path, at) => {
    ws();
    map.set(path, at ?? i);
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Error('key expected');
        const keyAt = i;
        const k = str();
        ws();
        if (text[i] !== ':') throw new Error(': expected');
        i++;
        value(path ? `${path}.${k}` : k, keyAt);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        throw new Error(', or } expected');
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') { i++; return; }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        throw new Error(', or ] expected');
      }
    } else if (c === '"') str();
    else while (i < text.length && /[^,\]}\s]/.test(text[i])) i++;
  };
  try { value('', 0); } catch { /* keep what was found */ }
  return map;
}

export function lineAt(text, offset) {
  let line = 1;
  for (let k = 0; k < offset && k < text.length; k++) if (text[k] === '\n') line++;
  return line;
}

/** The 1-based line a problem belongs to: its path (or the nearest parent found), or a position in a JSON syntax error. */
export function problemLine(text, problem, paths = locatePaths(text)) {
  let p = problem.path;
  while (p) {
    if (paths.has(p)) return lineAt(text, paths.get(p));
    const parent = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
    p = parent === p ? '' : parent;
  }
  const reason = problem.reason ?? '';
  const line = /line (\d+)/.exec(reason);
  if (line) return Number(line[1]);
  const pos = /position (\d+)/.exec(reason);
  if (pos) return lineAt(text, Number(pos[1]));
  return 1;
}
