// /etc/os-release of the base image: what the system is and its version, as
// xcluster's own image has it (NAME="Xcluster", ID=xcluster, VERSION_ID).
// The original's test library reads it in its first test case (xctest's
// log_version sources it; a missing file ends the test script there), and
// its tests check ID=xcluster.
import { readFileSync } from 'node:fs'

/** This package's version (package.json), which the guest reports as its VERSION_ID. */
export function xclusterVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

/** The text of /etc/os-release for version `version`. */
export function osRelease(version = xclusterVersion()): string {
  return [
    'NAME="Xcluster"',
    `VERSION="${version}"`,
    'ID=xcluster',
    `VERSION_ID="${version}"`,
    `PRETTY_NAME="Xcluster ${version}"`,
    'VARIANT="TypeScript"',
    'VARIANT_ID=typescript',
    'HOME_URL="https://github.com/Nordix/xcluster"',
    '',
  ].join('\n')
}
