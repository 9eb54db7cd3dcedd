import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with its multi-line errors turned into one-line UsageErrors. */
export function parseCommandArgs<O extends Options>(argv: readonly string[], options: O, maxPositionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message;
    const m = /^(Unknown option '[^']+'|Option '[^']+' argument missing|Option '[^']+'[^.]*)/.exec(msg);
    throw new UsageError(m ? m[1]! : msg.split('\n')[0]!);
  }
  if (parsed.positionals.length > maxPositionals) throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  return parsed;
}
