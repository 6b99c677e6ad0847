// `xc vm N`: a human's telnet session to a VM's root shell, through the
// same connection the harness uses (loopback forward or namespace relay).
import type { RunningVm } from '../cluster/running-vm.ts'
import { TelnetDecoder, telnetEncode } from '../control/telnet-codec.ts'
import { TELNET_PORT } from '../plan/plan.ts'
import { answerLine, findChallenge } from '../control/login.ts'

const CTRL_RIGHT_BRACKET = 0x1d

/** Connect the terminal to `vm`'s telnet shell; resolves with 0 when the session ends (1 when what answered is not that VM). */
export async function interactiveShell(vm: RunningVm): Promise<number> {
  const sock = await vm.openStream(TELNET_PORT)
  const stdin = process.stdin
  const raw = stdin.isTTY
  if (raw) stdin.setRawMode(true)
  const decoder = new TelnetDecoder((b) => sock.write(b))
  let code = 0
  return new Promise((resolve) => {
    const finish = (): void => {
      if (raw) stdin.setRawMode(false)
      stdin.off('data', onInput)
      stdin.pause()
      sock.destroy()
      resolve(code)
    }
    const onInput = (d: Buffer): void => {
      if (d.includes(CTRL_RIGHT_BRACKET)) return finish()
      sock.write(telnetEncode(d))
    }
    // The login challenges first: answer it for this VM (the answer is good
    // for this one challenge of this one VM only), and show what follows.
    let login: Buffer | undefined = Buffer.alloc(0)
    const secret = vm.secret()
    sock.on('data', (d: Buffer) => {
      const text = decoder.decode(d)
      if (!login) return void process.stdout.write(text)
      login = Buffer.concat([login, text])
      const challenge = findChallenge(login.toString('latin1'))
      if (!challenge) return
      const line = answerLine(secret, vm.name, challenge, false)
      if (!line) {
        process.stderr.write(`xc vm: refused: the login on ${vm.name}'s telnet port says it is ${challenge.vm}; nothing was sent\n`)
        code = 1
        return finish()
      }
      sock.write(telnetEncode(line))
      const rest = login.subarray(challenge.end)
      login = undefined
      if (rest.length) process.stdout.write(rest)
    })
    sock.on('close', finish)
    sock.on('error', finish)
    stdin.on('data', onInput)
    stdin.on('end', () => sock.end())
    stdin.resume()
    sock.resume()
  })
}
