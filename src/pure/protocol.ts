// The words the guest and the harness say to each other, in one place: the
// image's scripts print them (image/guest-files.ts), the harness reads them
// (control/, cluster/, vitest/). Changing one here changes both sides.

/** ASCII RS: each control-channel marker starts with it, so that no output line is taken for one by chance. */
export const RS = '\x1e'
/** RS as the guest's printf writes it. */
export const RS_PRINTF = '\\036'

/** The control channel's markers: ready once the boot is done; then per command, the start of its stderr and its end with the status. */
export const MARK = {
  ready: 'XC-READY',
  rcReport: 'XC-RC',
  err: 'XC-ERR',
  end: 'XC-END',
} as const

/** A boot phase on the console: `xc-phase: <name> <uptime>`. */
export const PHASE = 'xc-phase:'

/**
 * What a VM's telnet login prints first when its cluster has a key: this
 * prompt, the VM's name, a space and a fresh nonce, then a newline. The client
 * answers with the login answer (see control/login.ts); the key never crosses
 * the socket.
 */
export const CHALLENGE_PROMPT = 'xc-challenge: '
/** How long the guest waits for the answer to its challenge, s. */
export const LOGIN_ANSWER_SEC = 10
/** How many logins may wait for their answer at once in one VM; more are refused at once. */
export const LOGIN_PENDING_MAX = 8
