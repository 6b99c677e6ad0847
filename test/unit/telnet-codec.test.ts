import { describe, expect, it } from 'vitest'
import { IAC, TelnetDecoder, telnetEncode } from '../../src/control/telnet-codec.ts'

const SE = 240
const NOP = 241
const SB = 250
const WILL = 251
const WONT = 252
const DO = 253
const DONT = 254
const ECHO = 1
const SGA = 3
const TTYPE = 24
const NAWS = 31

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))))

/** Decode `chunks` with one decoder; the data and every reply. */
function run(chunks: Buffer[]): { data: Buffer; replies: Buffer[] } {
  const replies: Buffer[] = []
  const d = new TelnetDecoder((b) => replies.push(Buffer.from(b)))
  const data = Buffer.concat(chunks.map((c) => Buffer.from(d.decode(c))))
  return { data, replies }
}

describe('TelnetDecoder', () => {
  it('passes plain data through unchanged', () => {
    const { data, replies } = run([bytes('hello\r\n# ')])
    expect(data.toString('latin1')).toBe('hello\r\n# ')
    expect(replies).toEqual([])
  })

  it('answers WILL ECHO with DO ECHO and strips it', () => {
    const { data, replies } = run([bytes('a', [IAC, WILL, ECHO], 'b')])
    expect(data.toString('latin1')).toBe('ab')
    expect(replies).toEqual([Buffer.from([IAC, DO, ECHO])])
  })

  it('answers WILL SGA with DO SGA and any other WILL with DONT', () => {
    const { data, replies } = run([bytes([IAC, WILL, SGA, IAC, WILL, NAWS])])
    expect(data.length).toBe(0)
    expect(replies).toEqual([Buffer.from([IAC, DO, SGA]), Buffer.from([IAC, DONT, NAWS])])
  })

  it('answers DO x with WONT x', () => {
    const { data, replies } = run([bytes([IAC, DO, TTYPE], 'x', [IAC, DO, ECHO])])
    expect(data.toString('latin1')).toBe('x')
    expect(replies).toEqual([Buffer.from([IAC, WONT, TTYPE]), Buffer.from([IAC, WONT, ECHO])])
  })

  it('strips WONT and DONT without answering', () => {
    const { data, replies } = run([bytes('1', [IAC, WONT, ECHO], '2', [IAC, DONT, SGA], '3')])
    expect(data.toString('latin1')).toBe('123')
    expect(replies).toEqual([])
  })

  it('drops subnegotiation, including an escaped IAC inside it', () => {
    const { data, replies } = run([bytes('a', [IAC, SB, NAWS, 0, 80, IAC, IAC, 0, 24, IAC, SE], 'b')])
    expect(data.toString('latin1')).toBe('ab')
    expect(replies).toEqual([])
  })

  it('ends subnegotiation only at IAC SE, not at a bare SE byte in its payload', () => {
    // NAWS 240 x 24: the width byte is 240, the value of SE.
    const { data, replies } = run([bytes('a', [IAC, SB, NAWS, 0, SE, 0, 24, IAC, SE], 'b')])
    expect(data.toString('latin1')).toBe('ab')
    expect(replies).toEqual([])
  })

  it('unescapes IAC IAC to one 0xff byte', () => {
    const { data } = run([bytes('x', [IAC, IAC], 'y', [IAC, IAC, IAC, IAC])])
    expect([...data]).toEqual([0x78, 0xff, 0x79, 0xff, 0xff])
  })

  it('drops other two-byte commands such as NOP', () => {
    const { data, replies } = run([bytes('a', [IAC, NOP], 'b')])
    expect(data.toString('latin1')).toBe('ab')
    expect(replies).toEqual([])
  })

  it('passes every non-IAC byte value through', () => {
    const all = Buffer.from(Array.from({ length: 255 }, (_, i) => i))
    expect(run([all]).data.equals(all)).toBe(true)
  })

  describe('sequences split across chunks', () => {
    const stream = bytes(
      'hi',
      [IAC, WILL, ECHO],
      'x',
      [IAC, IAC],
      'y',
      [IAC, SB, NAWS, 0, 80, IAC, IAC, 0, 24, IAC, SE],
      [IAC, SB, NAWS, 0, SE, 0, 24, IAC, SE],
      [IAC, DO, TTYPE],
      'z',
      [IAC, WONT, SGA],
      [IAC, WILL, SGA],
      [IAC, NOP],
      'end',
    )
    const expectedData = bytes('hix', [0xff], 'yzend')
    const expectedReplies = [Buffer.from([IAC, DO, ECHO]), Buffer.from([IAC, WONT, TTYPE]), Buffer.from([IAC, DO, SGA])]

    it('decodes the whole stream in one chunk', () => {
      const { data, replies } = run([stream])
      expect(data.equals(expectedData)).toBe(true)
      expect(replies).toEqual(expectedReplies)
    })

    it('gives the same result at every split point', () => {
      for (let i = 0; i <= stream.length; i++) {
        const { data, replies } = run([stream.subarray(0, i), stream.subarray(i)])
        expect(data.toString('hex'), `split at ${i}`).toBe(expectedData.toString('hex'))
        expect(replies, `split at ${i}`).toEqual(expectedReplies)
      }
    })

    it('gives the same result at every pair of split points', () => {
      for (let i = 0; i <= stream.length; i++) {
        for (let j = i; j <= stream.length; j++) {
          const { data, replies } = run([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)])
          expect(data.toString('hex'), `split at ${i},${j}`).toBe(expectedData.toString('hex'))
          expect(replies, `split at ${i},${j}`).toEqual(expectedReplies)
        }
      }
    })

    it('gives the same result byte by byte', () => {
      const { data, replies } = run([...stream].map((b) => Buffer.from([b])))
      expect(data.equals(expectedData)).toBe(true)
      expect(replies).toEqual(expectedReplies)
    })
  })
})

describe('telnetEncode', () => {
  it('doubles 0xff', () => {
    expect([...telnetEncode(Buffer.from([1, 0xff, 2, 0xff, 0xff]))]).toEqual([1, 0xff, 0xff, 2, 0xff, 0xff, 0xff, 0xff])
  })

  it('leaves data without 0xff alone', () => {
    expect(telnetEncode('exec /bin/xc-ctl\n').toString()).toBe('exec /bin/xc-ctl\n')
    const b = Buffer.from([0, 1, 0xfe])
    expect([...telnetEncode(b)]).toEqual([0, 1, 0xfe])
  })

  it('encodes strings as UTF-8 (no 0xff byte in UTF-8 text)', () => {
    expect([...telnetEncode('ÿ')]).toEqual([0xc3, 0xbf])
  })

  it('round-trips every byte value through the decoder', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const { data, replies } = run([telnetEncode(all)])
    expect(data.equals(all)).toBe(true)
    expect(replies).toEqual([])
  })
})
