// The telnet protocol (RFC 854) as far as a busybox telnetd needs: option
// negotiation is answered, sub-negotiations dropped, IAC IAC unescaped, so that
// the data the guest wrote arrives byte for byte.

export const IAC = 255
const DONT = 254
const DO = 253
const WONT = 252
const WILL = 251
const SB = 250
const SE = 240
const OPT_ECHO = 1
const OPT_SGA = 3

type State = 'data' | 'iac' | 'opt' | 'sb' | 'sb-iac'

/** Stateful decoder of the server-to-client stream; `reply` gets the negotiation answers. */
export class TelnetDecoder {
  private state: State = 'data'
  private verb = 0

  constructor(private readonly reply: (bytes: Buffer) => void) {}

  /** The data bytes of `chunk`; telnet commands are consumed (and answered). */
  decode(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length)
    let n = 0
    for (const b of chunk) {
      switch (this.state) {
        case 'data':
          if (b === IAC) this.state = 'iac'
          else out[n++] = b
          break
        case 'iac':
          if (b === IAC) {
            out[n++] = IAC
            this.state = 'data'
          } else if (b === DO || b === DONT || b === WILL || b === WONT) {
            this.verb = b
            this.state = 'opt'
          } else if (b === SB) this.state = 'sb'
          else this.state = 'data'
          break
        case 'opt':
          this.answer(this.verb, b)
          this.state = 'data'
          break
        case 'sb':
          if (b === IAC) this.state = 'sb-iac'
          break
        case 'sb-iac':
          this.state = b === SE ? 'data' : 'sb'
          break
      }
    }
    return out.subarray(0, n)
  }

  // The server echoes and suppresses go-ahead: accept those; refuse every
  // other option so the session stays a plain byte stream.
  private answer(verb: number, opt: number): void {
    if (verb === WILL) this.reply(Buffer.from([IAC, opt === OPT_ECHO || opt === OPT_SGA ? DO : DONT, opt]))
    else if (verb === DO) this.reply(Buffer.from([IAC, WONT, opt]))
  }
}

/** Escape client data for the wire (IAC doubled). */
export function telnetEncode(data: Buffer | string): Buffer {
  const buf = typeof data === 'string' ? Buffer.from(data) : data
  if (!buf.includes(IAC)) return buf
  const out: number[] = []
  for (const b of buf) {
    out.push(b)
    if (b === IAC) out.push(IAC)
  }
  return Buffer.from(out)
}
