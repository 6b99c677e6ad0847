// Words for the guest's shell.

/** `s` as one word for a POSIX shell (single-quoted). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}
