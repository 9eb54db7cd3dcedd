// Exit codes (sysexits.h where one fits). Each error class carries its code so that the
// entry point maps every failure to one line on stderr and the right status.
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, SOFTWARE: 70, CANTCREAT: 73, NOPERM: 77, CONFIG: 78 } as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = EXIT.USAGE;
}
