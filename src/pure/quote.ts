// Words for a POSIX shell: the guest's, and an ssh host's.

/** `s` as one word for a POSIX shell (single-quoted). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}
