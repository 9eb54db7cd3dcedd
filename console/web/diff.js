// A line diff (longest common subsequence) of two pretty-printed configs, shown as hunks
// with two lines of context. Configs are at most 64 KB, so the quadratic table stays small;
// beyond a bound the diff is not computed.

const MAX_CELLS = 4_000_000;

export function diffLines(a, b) {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_CELLS) return null;
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([' ', a[i]]); i++; j++; }
    else if (dp[i + 1][j] >= dp[i][j + 1]) out.push(['-', a[i++]]);
    else out.push(['+', b[j++]]);
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}

/** The changed lines with `context` lines around them; '…' rows between hunks. */
export function hunks(diff, context = 2) {
  const keep = diff.map(() => false);
  diff.forEach(([op], k) => {
    if (op === ' ') return;
    for (let x = Math.max(0, k - context); x <= Math.min(diff.length - 1, k + context); x++) keep[x] = true;
  });
  const out = [];
  let skipped = false;
  diff.forEach((row, k) => {
    if (keep[k]) { if (skipped && out.length) out.push(['…', '']); out.push(row); skipped = false; }
    else skipped = true;
  });
  return out;
}
