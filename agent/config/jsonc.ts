/**
 * JSON with comments (// and /* *\/) and trailing commas, as in VS Code's settings: the
 * shipped config file documents every key in place. Comments become spaces so that line
 * and column numbers in parse errors still point into the user's file.
 */
export function stripJsonc(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      const start = i++;
      while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      out += text.slice(start, ++i);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') (out += ' '), i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return dropTrailingCommas(out);
}

/** A comma followed only by whitespace before } or ] (outside strings) becomes a space. */
function dropTrailingCommas(text: string): string {
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '"') {
      for (i++; i < chars.length && chars[i] !== '"'; i++) if (chars[i] === '\\') i++;
    } else if (chars[i] === ',') {
      let j = i + 1;
      while (j < chars.length && /\s/.test(chars[j]!)) j++;
      if (chars[j] === '}' || chars[j] === ']') chars[i] = ' ';
    }
  }
  return chars.join('');
}

/** Parses JSONC; the error message names line and column. */
export function parseJsonc(text: string): unknown {
  const plain = stripJsonc(text);
  try {
    return JSON.parse(plain);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    if (!pos) throw new Error(`invalid JSON: ${msg}`);
    const before = plain.slice(0, Number(pos[1]));
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    throw new Error(`invalid JSON at line ${line}, column ${col}: ${msg.replace(/ in JSON at position \d+.*$/, '')}`);
  }
}
