#!/usr/bin/env bash
# The Debian 12 packages the harness needs on the host, and the package lists
# that know the kernel it downloads. Run by scripts/setup.sh (npm run setup in
# a clone) and by `xc setup` (also where xcluster is installed under a
# project's node_modules/xcluster/): it uses no file of the package and runs
# no npm. Idempotent: when everything is in place it prints one line and
# changes nothing.
#   as root: apt-get update and install what is missing;
#   as a user: print the exact line to run as root and exit 1 when something
#   is missing; exit 0 when everything is installed.
# One device node: as root, a /dev/net/tun that only root may open gets
# Debian's default mode 0666 (what udev gives it), so that bridge mode runs
# without root; it says so. /dev/kvm keeps its mode.
# Arguments name more packages to check and install (npm run setup in a clone
# adds those the repo's own tests need).
# dpkg-query, apt-get and apt-cache are in /usr/bin: no sbin on PATH needed.
set -euo pipefail

# qemu-system-x86: the VMs (and qboot.rom); busybox-static: the guest's userland
# and depmod; iproute2: namespaces, bridges, taps; e2fsprogs: the tools disk;
# lz4: unpacks the cloud kernel's vmlinux for PVH boot;
# tcpdump .. jq: the programs of the tools disk (tools: true); dpkg/apt: the kernel
# and the package layers; fakeroot: a package layer built as a user; acl: xc nsadd;
# util-linux: flock (the locks between processes) and setpriv (Essential in Debian:
# named for a minimal container that lacks it); linux-source-6.1 .. kmod: the
# harness's own kernel, built from Debian's source (xc kernel build; the
# compiler, kconfig's flex and bison, bc, libelf for objtool, libssl for the
# module tools, depmod).
PACKAGES=(qemu-system-x86 busybox-static iproute2 e2fsprogs lz4
  tcpdump iperf3 nftables iptables ethtool socat iputils-ping dropbear-bin dash bash jq
  fakeroot acl util-linux
  linux-source-6.1 gcc make libc6-dev bc flex bison libelf-dev libssl-dev xz-utils kmod
  "$@")

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: dpkg-query and apt-get not found: the harness needs a Debian 12 host (x86-64)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

updated=
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: install them as root, then run the setup again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} ..."
  apt-get update -qq
  updated=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present (${PACKAGES[*]})"
fi

# The kernel comes from apt-get download: the package lists must know it
# (a container image such as node:20-bookworm ships without lists).
if [ -z "${XCLUSTER_KERNEL:-}" ] && ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    [ -n "$updated" ] || apt-get update -qq
  else
    echo "setup: apt-cache does not know linux-image-cloud-amd64; run: sudo apt-get update (or set XCLUSTER_KERNEL and XCLUSTER_MODULES)" >&2
  fi
fi

# Rootless bridge mode opens /dev/net/tun as the user (QEMU's taps). Debian's
# udev makes it 0666; a container or a minimal host may leave it 0600.
if [ "$(id -u)" -eq 0 ] && [ -c /dev/net/tun ]; then
  mode=$(stat -c %a /dev/net/tun)
  if [ "$mode" != 666 ]; then
    chmod 0666 /dev/net/tun
    echo "setup: /dev/net/tun was mode $mode; gave it Debian's default 0666 (as udev does), so that bridge mode runs without root (rootless). Until the next boot; a udev rule or \`xc nsadd\` keeps it"
  fi
fi
