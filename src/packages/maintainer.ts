// What Debian packages' maintainer scripts and systemd files would have
// made on an installed system, read from them rather than run: system users
// and groups (adduser, addgroup, useradd, groupadd, usermod -a -G, and
// sysusers.d), and directories (mkdir and install -d of literal paths,
// tmpfiles.d `d` lines, RuntimeDirectory= and its kin in units). What the
// scripts do to files (ucf, update-alternatives, dpkg-statoverride, chown,
// ...) is ./file-actions.ts. Nothing of a package runs on the host. Pure.
import { plainWords, scriptCommands, SPLIT } from './shell-words.ts'

export interface Account {
  name: string
  /** Primary group (a group of the same name with --group; nogroup for a bare --system user). */
  group?: string
  home: string
  shell: string
  gecos: string
}

export interface DirEntry {
  path: string
  mode?: string
  user?: string
  group?: string
  /** Owner and mode apply to a directory that exists too (install -d, tmpfiles.d, units); mkdir's only to one it makes. */
  install?: boolean
}

export interface Accounts {
  users: Account[]
  groups: string[]
  /** [user, group]: supplementary memberships. */
  members: Array<[string, string]>
  /** Directories to exist, with owner and mode when given. */
  dirs: DirEntry[]
}

export function emptyAccounts(): Accounts {
  return { users: [], groups: [], members: [], dirs: [] }
}

const literal = (s: string | undefined): s is string => !!s && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(s)
/** An absolute path of plain characters (no expansion, glob or quote left). */
export const literalPath = (s: string | undefined): s is string => !!s && /^\/[A-Za-z0-9_./+~@:,-]+$/.test(s)

/** Options of a command that take a value (so that the value is not a positional). */
const VALUED: Record<string, string[]> = {
  adduser: ['--home', '--shell', '--ingroup', '--gecos', '--uid', '--gid', '--comment', '--firstuid', '--lastuid', '--conf', '--add-extra-groups'],
  addgroup: ['--gid', '--conf'],
  useradd: ['-d', '--home-dir', '-s', '--shell', '-g', '--gid', '-G', '--groups', '-c', '--comment', '-u', '--uid', '-K', '-k', '-e', '-f', '-b'],
  groupadd: ['-g', '--gid', '-K', '-p'],
  usermod: ['-G', '--groups', '-g', '-d', '-s', '-c', '-u', '-l'],
  install: ['-o', '--owner', '-g', '--group', '-m', '--mode'],
  mkdir: ['-m', '--mode'],
  ucf: ['--sum-file', '--state-dir', '--three-way-file'],
  touch: ['-d', '-r', '-t', '--date', '--reference'],
  cp: ['-t', '-S', '--target-directory', '--suffix'],
  ln: ['-t', '-S', '--target-directory', '--suffix'],
  chown: ['--reference', '--from'],
  chgrp: ['--reference'],
  chmod: ['--reference'],
}

export function parseArgs(tool: string, args: string[]): { opts: Map<string, string>; flags: Set<string>; pos: string[] } {
  const opts = new Map<string, string>()
  const flags = new Set<string>()
  const pos: string[] = []
  const valued = VALUED[tool] ?? []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    // Redirections are not arguments (`addgroup --system frr >/dev/null 2>&1`).
    if (/^[0-9&]*[<>]/.test(a)) {
      if (/^[0-9&]*[<>]+$/.test(a)) i++
      continue
    }
    if (a.startsWith('--') && a.includes('=')) opts.set(a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1))
    else if (valued.includes(a)) opts.set(a, args[++i] ?? '')
    else if (/^-[a-zA-Z]{2,}$/.test(a) && tool !== 'adduser') for (const ch of a.slice(1)) flags.add(`-${ch}`)
    else if (a.startsWith('-')) flags.add(a)
    // An unquoted expansion is not a positional (`adduser --system $quiet postgres`): it may be options, or nothing.
    else if (!a.startsWith(SPLIT)) pos.push(a)
  }
  return { opts, flags, pos }
}

/** Users, groups and directories the maintainer script `script` would make. */
export function scanMaintainerScript(script: string, into: Accounts = emptyAccounts()): Accounts {
  const addGroup = (g: string): void => void (literal(g) && !into.groups.includes(g) && into.groups.push(g))
  const addUser = (u: Account): void => {
    if (!literal(u.name) || into.users.some((x) => x.name === u.name)) return
    // A group, home or shell given by an expansion is not known here: a system user's defaults.
    into.users.push({
      name: u.name,
      group: literal(u.group) ? u.group : 'nogroup',
      home: literalPath(u.home) ? u.home : '/nonexistent',
      shell: literalPath(u.shell) ? u.shell : '/usr/sbin/nologin',
      gecos: /^[^:\n\u0000]*$/.test(u.gecos) ? u.gecos : '',
    })
  }
  const member = (u: string, g: string): void => void (literal(u) && literal(g) && into.members.push([u, g]))
  for (const w of scriptCommands(script)) {
    const i = w.findIndex((x) => /^(\/usr\/s?bin\/|\/s?bin\/)?(adduser|addgroup|useradd|groupadd|usermod|mkdir|install)$/.test(x))
    if (i < 0) continue
    const tool = w[i].split('/').pop()!
    const { opts, flags, pos } = parseArgs(tool, w.slice(i + 1))
    if (tool === 'adduser' || tool === 'addgroup') {
      const groupOnly = tool === 'addgroup' || flags.has('--group') && !flags.has('--system')
      if (groupOnly) {
        if (pos.length === 1) addGroup(pos[0])
        else if (pos.length === 2) member(pos[0], pos[1])
        continue
      }
      if (pos.length === 2) member(pos[0], pos[1])
      else if (pos.length === 1 && flags.has('--system')) {
        const group = opts.get('--ingroup') ?? (flags.has('--group') ? pos[0] : 'nogroup')
        if (flags.has('--group')) addGroup(pos[0])
        addUser({ name: pos[0], group, home: opts.get('--home') ?? '/nonexistent', shell: opts.get('--shell') ?? '/usr/sbin/nologin', gecos: opts.get('--gecos') ?? opts.get('--comment') ?? '' })
      }
    } else if (tool === 'useradd' && pos.length) {
      const name = pos[pos.length - 1]
      const group = opts.get('-g') ?? opts.get('--gid') ?? (flags.has('-U') || flags.has('--user-group') ? name : 'nogroup')
      if (group === name) addGroup(name)
      addUser({ name, group, home: opts.get('-d') ?? opts.get('--home-dir') ?? '/nonexistent', shell: opts.get('-s') ?? opts.get('--shell') ?? '/usr/sbin/nologin', gecos: opts.get('-c') ?? opts.get('--comment') ?? '' })
      for (const g of (opts.get('-G') ?? opts.get('--groups') ?? '').split(',').filter(Boolean)) member(name, g)
    } else if (tool === 'groupadd' && pos.length) {
      addGroup(pos[pos.length - 1])
    } else if (tool === 'usermod' && pos.length && (flags.has('-a') || flags.has('--append'))) {
      for (const g of (opts.get('-G') ?? opts.get('--groups') ?? '').split(',').filter(Boolean)) member(pos[pos.length - 1], g)
    } else if (tool === 'mkdir' || (tool === 'install' && (flags.has('-d') || flags.has('--directory')))) {
      for (const p of pos.filter(literalPath)) {
        const d: DirEntry = { path: p, mode: opts.get('-m') ?? opts.get('--mode'), user: opts.get('-o') ?? opts.get('--owner'), group: opts.get('-g') ?? opts.get('--group') }
        into.dirs.push(tool === 'install' ? { ...d, install: true } : d)
      }
    }
  }
  return into
}

/** sysusers.d lines: u NAME ID "GECOS" HOME SHELL, g NAME ID, m USER GROUP. */
export function scanSysusers(text: string, into: Accounts = emptyAccounts()): Accounts {
  for (const line of text.split('\n')) {
    const w = plainWords(line.replace(/#.*$/, '').trim())
    if (w.length < 2 || !literal(w[1])) continue
    if (w[0] === 'g' && !into.groups.includes(w[1])) into.groups.push(w[1])
    if (w[0] === 'm' && literal(w[2])) into.members.push([w[1], w[2]])
    if (w[0] === 'u' && !into.users.some((u) => u.name === w[1])) {
      const gid = w[2]?.includes(':') ? w[2].split(':')[1] : undefined
      const group = gid && literal(gid) && !/^\d+$/.test(gid) ? gid : w[1]
      if (group === w[1] && !into.groups.includes(w[1])) into.groups.push(w[1])
      const val = (x: string | undefined, def: string): string => (x && x !== '-' ? x : def)
      into.users.push({ name: w[1], group, gecos: val(w[3], ''), home: val(w[4], '/nonexistent'), shell: val(w[5], '/usr/sbin/nologin') })
    }
  }
  return into
}

/** tmpfiles.d `d` and `D` lines of literal paths: PATH MODE USER GROUP. */
export function scanTmpfiles(text: string, into: Accounts = emptyAccounts()): Accounts {
  for (const line of text.split('\n')) {
    const w = plainWords(line.replace(/#.*$/, '').trim())
    if ((w[0] !== 'd' && w[0] !== 'D') || !literalPath(w[1])) continue
    const val = (x: string | undefined): string | undefined => (x && x !== '-' ? x : undefined)
    into.dirs.push({ path: w[1], mode: val(w[2]), user: val(w[3]), group: val(w[4]), install: true })
  }
  return into
}

const UNIT_DIRS: Record<string, string> = {
  RuntimeDirectory: '/run', StateDirectory: '/var/lib', LogsDirectory: '/var/log', CacheDirectory: '/var/cache', ConfigurationDirectory: '/etc',
}

/** A systemd unit's RuntimeDirectory= (and State, Logs, Cache, Configuration), owned by its User= and Group=. */
export function scanUnit(text: string, into: Accounts = emptyAccounts()): Accounts {
  const get = (k: string): string | undefined => [...text.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].pop()?.[1].trim()
  const user = get('User')
  const group = get('Group')
  for (const [key, base] of Object.entries(UNIT_DIRS)) {
    for (const d of (get(key) ?? '').split(/\s+/).filter(literal)) {
      into.dirs.push({ path: `${base}/${d}`, mode: get(`${key}Mode`), user: literal(user) ? user : undefined, group: literal(group) ? group : undefined, install: true })
    }
  }
  return into
}
