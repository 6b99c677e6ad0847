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
# openvswitch-switch: the programs (ovsdb-server, ovs-vswitchd, ovs-vsctl,
# ovs-ofctl) of experiments/ovs-net-setup, whose clusters run an Open vSwitch
# of their own. When it is not installed yet, a policy-rc.d that refuses every
# start (Debian's switch for invoke-rc.d; a container may have one already)
# keeps its install from starting the system's own OVS, and its service is then
# disabled for later boots: the system's OVS stays off, and the clusters' OVS
# never talks to it.
ovs_new= made_policy=
if [ "$(id -u)" -eq 0 ] && ! dpkg-query -W -f='${Status}' openvswitch-switch 2>/dev/null | grep -q 'install ok installed'; then
  ovs_new=1
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# xcluster setup: no service starts while openvswitch-switch is installed\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
fi
bash scripts/system-packages.sh chromium openssh-server openvswitch-switch mmdebstrap
if [ -n "$made_policy" ]; then
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi
if [ -n "$ovs_new" ]; then
  update-rc.d openvswitch-switch disable >/dev/null 2>&1 || true
  echo "setup: openvswitch-switch is installed for experiments/ovs-net-setup (each cluster runs an OVS of its own); the system's own OVS service was not started and is disabled at boot (update-rc.d / systemctl enable openvswitch-switch turns it on)"
fi

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
