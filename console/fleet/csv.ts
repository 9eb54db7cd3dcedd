// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks (a PEM key).

export class CsvError extends Error {
  override readonly name = 'CsvError';
}

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a BOM from spreadsheet exports
  const endField = (): void => {
    row.push(field);
    field = '';
  };
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"') {
      if (field !== '') throw new CsvError(`line ${line}: a quote inside an unquoted field`);
      quoted = true;
    } else if (c === ',') endField();
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endField();
      if (!(row.length === 1 && row[0] === '')) rows.push(row);
      row = [];
      line++;
    } else field += c;
  }
  if (quoted) throw new CsvError(`line ${line}: unterminated quoted field`);
  endField();
  if (!(row.length === 1 && row[0] === '')) rows.push(row);
  return rows;
}

/** Rows as objects keyed by the header row's (trimmed, lower-case) names. */
export function csvRecords(text: string, known: readonly string[]): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new CsvError('empty CSV: expected a header row');
  const names = header.map((h) => h.trim().toLowerCase());
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new CsvError(`unknown column(s) ${unknown.join(', ')}: expected ${known.join(', ')}`);
  return rows.map((r, i) => {
    if (r.length !== names.length) throw new CsvError(`row ${i + 2}: ${r.length} field(s), the header has ${names.length}`);
    return Object.fromEntries(names.map((n, j) => [n, r[j]!.trim()]));
  });
}
