import { describe, expect, it } from 'vitest'
import { encodeRequest } from '../../src/control/shell-channel.ts'

/** The command an encoded request line carries, decoded as the guest's xc-ctl does. */
function decodeLine(line: string): { id: string; mode: string; cmd: string } {
  expect(line.endsWith('\n')).toBe(true)
  expect(line.indexOf('\n')).toBe(line.length - 1)
  const body = line.slice(0, -1)
  const id = body.slice(0, body.indexOf(' '))
  const rest = body.slice(id.length + 1)
  const mode = rest.slice(0, rest.indexOf(' '))
  const payload = rest.slice(mode.length + 1)
  return { id, mode, cmd: mode === 'b' ? Buffer.from(payload, 'base64').toString('utf8') : payload }
}

describe('encodeRequest', () => {
  it('sends printable ASCII as it is', () => {
    expect(encodeRequest('7', 'echo hello')).toBe('7 p echo hello\n')
    expect(encodeRequest('ab12-3', 'ip -4 addr show dev eth1')).toBe('ab12-3 p ip -4 addr show dev eth1\n')
  })

  it('keeps quotes, backslashes and shell syntax plain (all printable)', () => {
    const cmd = `echo "a b" 'c' \\n $HOME \`id\` | tr a-z A-Z; x=~ && [ -e / ] || true # {}`
    expect(encodeRequest('1', cmd)).toBe(`1 p ${cmd}\n`)
  })

  it('sends the empty command plain', () => {
    expect(encodeRequest('9', '')).toBe('9 p \n')
  })

  it.each([
    ['a newline', 'echo a\necho b'],
    ['a trailing newline', 'echo a\n'],
    ['a carriage return', 'echo a\rb'],
    ['a tab', 'printf "a\tb"'],
    ['an escape', 'printf "\x1b[0m"'],
    ['DEL', 'echo \x7f'],
    ['a NUL', 'echo a\0b'],
    ['Latin-1', 'echo héllo'],
    ['emoji', 'echo ✓ 🚀'],
    ['a heredoc', "cat > /tmp/x <<'EOF'\nline 1\n  line 2 with 'quotes' and \"more\"\nEOF\n"],
  ])('sends a command with %s as base64 that decodes back exactly', (_, cmd) => {
    const line = encodeRequest('42', cmd)
    expect(line).toMatch(/^42 b [A-Za-z0-9+/]+={0,2}\n$/)
    expect(line).toBe(`42 b ${Buffer.from(cmd, 'utf8').toString('base64')}\n`)
    expect(decodeLine(line)).toEqual({ id: '42', mode: 'b', cmd })
  })

  it('always makes exactly one line of printable ASCII', () => {
    const cmds = ['x', 'a\nb', '\n\n\n', 'é', '\xff', '\u2028', 'a'.repeat(5000) + '\n']
    for (const cmd of cmds) {
      const line = encodeRequest('1', cmd)
      expect(/^[\x20-\x7e]*\n$/.test(line), JSON.stringify(cmd)).toBe(true)
      expect(decodeLine(line).cmd).toBe(cmd)
    }
  })
})
