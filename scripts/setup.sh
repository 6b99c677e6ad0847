#!/usr/bin/env bash
# npm run setup, in a clone: the Debian packages the harness needs
# (scripts/system-packages.sh), the npm dependencies, dist/ (npm run build),
# and the VM image in $XCLUSTER_HOME (default ~/.cache/xcluster).
# Idempotent: a second run checks, finds everything in place and changes
# nothing (dist/ is compiled again).
set -euo pipefail
cd "$(dirname "$0")/.."

# The harness's packages, and those of the repo's own tests: chromium for the
# browser test of the HTML report (test/report-browser.test.ts drives
# /usr/bin/chromium headless through playwright-core); openssh-server for the
# simulated ssh hosts of test/ssh-hosts.test.ts, each running its own sshd in
# a namespace. Only its program is wanted: when it is not installed yet,
# /etc/ssh/sshd_not_to_be_run (Debian's switch, read by its ssh service) keeps
# the system's own sshd from starting, now and at boot. mmdebstrap: the real
# Debian install that test/packages-sweep.test.ts compares package layers with.
if [ "$(id -u)" -eq 0 ] && ! dpkg-query -W -f='${Status}' openssh-server 2>/dev/null | grep -q 'install ok installed'; then
  mkdir -p /etc/ssh
  touch /etc/ssh/sshd_not_to_be_run
  echo "setup: openssh-server is installed for the tests' simulated hosts; /etc/ssh/sshd_not_to_be_run keeps the system's ssh service off (remove it to run one)"
fi
bash scripts/system-packages.sh chromium openssh-server mmdebstrap

# npm ci only when node_modules does not match package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci ..."
  npm ci --no-audit --no-fund
else
  echo "setup: npm dependencies up to date"
fi

echo "setup: npm run build (src/ to dist/)"
npm run --silent build

exec node bin/xc.js setup --image-only
