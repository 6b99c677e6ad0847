#!/usr/bin/env bash
# npm run setup (and xc setup): the Debian packages the harness needs, the npm
# dependencies, and the VM image in $XCLUSTER_HOME (default ~/.cache/xcluster).
# Idempotent: a second run checks, finds everything in place and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# qemu-system-x86: the VMs (and qboot.rom); busybox-static: the guest's userland
# and depmod; iproute2: namespaces, bridges, taps; e2fsprogs: the tools disk;
# lz4: unpacks the cloud kernel's vmlinux for PVH boot;
# the rest: the programs of the tools disk (tools: true). dpkg/apt: the kernel.
PACKAGES=(qemu-system-x86 busybox-static iproute2 e2fsprogs lz4
  tcpdump iperf3 nftables iptables ethtool socat iputils-ping dropbear-bin dash bash)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: install them as root, then run npm run setup again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present (${PACKAGES[*]})"
fi

# npm ci only when node_modules does not match package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci ..."
  npm ci --no-audit --no-fund
else
  echo "setup: npm dependencies up to date"
fi

# The kernel comes from apt-get download: the package lists must know it.
if [ -z "${XCLUSTER_KERNEL:-}" ] && ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
  else
    echo "setup: apt-cache does not know linux-image-cloud-amd64; run: sudo apt-get update (or set XCLUSTER_KERNEL and XCLUSTER_MODULES)" >&2
  fi
fi

exec node bin/xc.js setup --image-only
