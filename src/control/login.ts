// The telnet login's challenge and answer, host side (the guest side is the
// login script in ../image/guest-files.ts). The cluster's secret never
// crosses a socket: each VM holds a key of its own, derived from the secret
// and its name, and proves nothing but that it can check an answer; the
// client proves it knows that key by answering a fresh nonce.
import { createHash } from 'node:crypto'
import { CHALLENGE_PROMPT } from '../pure/protocol.ts'

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/** VM `vm`'s login key: what its boot script derives from the cluster's `secret` (and keeps in /etc/xcluster/key). */
export function vmLoginKey(secret: string, vm: string): string {
  return sha256(`xc-vm-key ${vm} ${secret}`)
}

/** The answer to VM `vm`'s challenge `nonce`, with that VM's `key`. */
export function loginAnswer(key: string, vm: string, nonce: string): string {
  return sha256(`${key} ${vm} ${nonce}`)
}

/** A challenge line as the guest prints it: the VM's name and a fresh nonce (a UUID from the guest's kernel). */
const CHALLENGE = new RegExp(`${CHALLENGE_PROMPT}(vm-\\d{3}) ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\\r?\\n`)

/** Where the challenge in `text` ends and what it says, or undefined while none has come whole. */
export function findChallenge(text: string): { vm: string; nonce: string; end: number } | undefined {
  const m = CHALLENGE.exec(text)
  return m ? { vm: m[1], nonce: m[2], end: m.index + m[0].length } : undefined
}

/**
 * The line that answers `challenge` for VM `vm` (the VM the client means),
 * with the cluster's `secret`; ` ctl` asks for the control channel instead of
 * a shell. Undefined when the challenge names another VM: whatever answered
 * is not `vm`, and gets no answer at all.
 */
export function answerLine(secret: string, vm: string, challenge: { vm: string; nonce: string }, ctl: boolean): string | undefined {
  if (challenge.vm !== vm) return undefined
  return `${loginAnswer(vmLoginKey(secret, vm), vm, challenge.nonce)}${ctl ? ' ctl' : ''}\n`
}
