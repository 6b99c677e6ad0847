// A layer's accounts: its /etc/passwd and /etc/group are the base image's
// accounts, then Debian's fixed ones (base-passwd: www-data, adm, ...), then
// the system users and groups the packages' scripts and sysusers.d make,
// with ids from 200; and the boot-time lines for the directories under /run
// (a tmpfs in the VM). Pure.
import { BASE_GROUP as GROUP, BASE_PASSWD as PASSWD } from '../plan/model.ts'
import { DEBIAN_GROUP, DEBIAN_PASSWD } from './debian-accounts.ts'
import { atBoot, ownerArg, type Ids } from './emulate.ts'
import type { Accounts } from './maintainer.ts'

/** First uid and gid of the layer's system users and groups (the base image has 0 and 104). */
const FIRST_ID = 200

const rows = (text: string): string[][] => text.trim().split('\n').map((l) => l.split(':'))

/** passwd and group lines for the layer (after the base image's), and the id of each name. */
export function accountFiles(acc: Accounts): Ids & { passwd: string; group: string } {
  const uid = new Map(rows(PASSWD).map((f) => [f[0], Number(f[2])]))
  const primary = new Map(rows(PASSWD).map((f) => [f[0], Number(f[3])]))
  const gid = new Map(rows(GROUP).map((f) => [f[0], Number(f[2])]))
  const baseGroups = new Set(gid.keys())
  const passwdLines: string[] = []
  for (const f of rows(DEBIAN_PASSWD)) {
    if (uid.has(f[0])) continue
    uid.set(f[0], Number(f[2]))
    primary.set(f[0], Number(f[3]))
    passwdLines.push(f.join(':'))
  }
  for (const f of rows(DEBIAN_GROUP)) if (!gid.has(f[0])) gid.set(f[0], Number(f[2]))
  let next = FIRST_ID
  for (const g of [...acc.groups, ...acc.users.map((u) => u.group ?? 'nogroup')]) {
    if (!gid.has(g)) gid.set(g, next++)
  }
  next = FIRST_ID
  for (const u of acc.users) {
    if (uid.has(u.name)) continue
    uid.set(u.name, next++)
    primary.set(u.name, gid.get(u.group ?? 'nogroup')!)
    passwdLines.push(`${u.name}:x:${uid.get(u.name)}:${primary.get(u.name)}:${u.gecos}:${u.home}:${u.shell}`)
  }
  const groupLines: string[] = []
  for (const [g, id] of gid) {
    if (baseGroups.has(g)) continue
    const members = acc.members.filter(([, mg]) => mg === g).map(([u]) => u).filter((u) => uid.has(u))
    groupLines.push(`${g}:x:${id}:${[...new Set(members)].join(',')}`)
  }
  const text = (l: string[]): string => l.map((x) => x + '\n').join('')
  return { passwd: text(passwdLines), group: text(groupLines), uid, gid, primary }
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * The shell lines that make the accounts' directories under /run (and
 * /var/run, the same in the VM) at boot, in one mkdir (each process costs
 * milliseconds under TCG), then their owners and modes.
 */
export function bootCommands(acc: Accounts, ids: Ids): string[] {
  const boot: string[] = []
  const runtime: string[] = []
  for (const d of acc.dirs) {
    if (!atBoot(d.path) || d.path.split('/').includes('..')) continue
    const p = d.path.replace(/^\/var\/run/, '/run')
    if (!runtime.includes(p)) runtime.push(p)
    const o = ownerArg(ids, d.user, d.group)
    if (o) boot.push(`chown ${o} ${q(p)}`)
    if (d.mode && /^[0-7]{3,4}$/.test(d.mode) && !/^0?755$/.test(d.mode)) boot.push(`chmod ${d.mode} ${q(p)}`)
  }
  if (runtime.length) boot.unshift(`mkdir -p ${runtime.map(q).join(' ')}`)
  return boot
}
