// The files of the base image that run inside the VM: busybox init's
// inittab, the boot script, the telnet login and the control channel.
import { CHALLENGE_PROMPT, LOGIN_ANSWER_SEC, LOGIN_PENDING_MAX, MARK, PHASE, RS_PRINTF } from '../pure/protocol.ts'

/** busybox init runs the boot script once, then keeps PID 1 and reaps orphans. */
export const INITTAB = `::sysinit:/etc/xcluster/boot
::ctrlaltdel:/bin/reboot -f
::shutdown:/bin/umount -a -r
`

/**
 * The boot script. Markers `xc-phase:` on the console let the harness (and the
 * benchmark) time each phase. Settings of the cluster come from
 * /etc/xcluster/cluster.env, which the cluster's own initramfs segment brings.
 */
export const BOOT_SCRIPT = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /tmp /run /var/log /var/tmp /root
chmod 1777 /var/tmp
ln -s /run /var/run
mount -t devpts -o ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir /run/xc-login
echo "${PHASE} init $(cut -d' ' -f1 /proc/uptime)" > /dev/console
PREFIX=1000::1
[ -r /etc/xcluster/cluster.env ] && . /etc/xcluster/cluster.env
# The virtio modules, unless the kernel has them built in (then the list is empty).
read -r m < /etc/xcluster/modules
[ -z "$m" ] || modprobe -a $m || echo "xc: modprobe failed" > /dev/console
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 500 ]; do usleep 10000; i=$((i+1)); done
mac=$(cat /sys/class/net/eth0/address)
v=$((0x\${mac##*:}))
name=$(printf 'vm-%03d' $v)
hostname $name
echo $name > /etc/hostname
# The telnet login's key: this VM's own, derived from the cluster's secret and
# its name (as control/login.ts does on the host); the secret does not stay.
if [ -s /etc/xcluster/secret ]; then
  read -r s < /etc/xcluster/secret
  if [ -n "$s" ]; then
    k=$(printf 'xc-vm-key %s %s' "$name" "$s" | sha256sum)
    umask 077; echo "\${k%% *}" > /etc/xcluster/key; umask 022
  fi
  rm -f /etc/xcluster/secret; s= k=
fi
ip link set lo up
echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad
echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad
[ -n "$MTU0" ] && ip link set eth0 mtu $MTU0
ip addr add 192.168.0.$v/24 dev eth0
ip -6 addr add $PREFIX:192.168.0.$v/120 dev eth0
ip link set eth0 up
echo "${PHASE} network $(cut -d' ' -f1 /proc/uptime)" > /dev/console
# The tools disk (tools: true): programs, libraries and modules on /xt.
if [ "$XCLUSTER_TOOLS" = yes ]; then
  modprobe -q virtio_blk
  i=0
  while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do usleep 10000; i=$((i+1)); done
  mkdir -p /xt
  if mount -t ext4 -o ro /dev/vda /xt; then
    # With a package layer the tools are laid over the root with it (below), no links needed.
    case " $(cat /proc/cmdline) " in
      *" xc.layer=1 "*) layered=yes; mount -o bind /xt/lib/modules /lib/modules ;;
      *) . /xt/xt-setup ;;
    esac
  else echo "xc: the tools disk did not mount" > /dev/console
  fi
  export PATH=/usr/sbin:/usr/bin:/sbin:/bin
fi
# The package layer (packages): Debian packages unpacked on /xp, laid over the
# root with overlayfs (the layer first, then the tools, then the initramfs;
# writes go to /run), so that its programs are at their Debian paths.
if [ "$layered" = yes ]; then
  i=0
  while [ ! -b /dev/vdb ] && [ $i -lt 300 ]; do usleep 10000; i=$((i+1)); done
  mkdir -p /xp
  # overlayfs is a module of Debian's kernel, built into the harness's (busybox modprobe then fails).
  if { modprobe -q overlay || grep -qw overlay /proc/filesystems; } && mount -t ext4 -o ro /dev/vdb /xp; then
    # layer DIR LOWER...: an overlay on /DIR of the LOWERs that exist, over /DIR itself
    # (no subshell nor helper process in it: each costs milliseconds under TCG).
    layer() {
      t=$1; shift; lower=
      for l in "$@"; do [ -d $l ] && lower=$lower\${lower:+:}$l; done
      [ -n "$lower" ] || return 0
      [ -L /$t ] && rm /$t
      if [ -d /$t ]; then lower=$lower:/$t; else mkdir /$t; fi
      mkdir /run/xc-layer/$t /run/xc-layer/$t/u /run/xc-layer/$t/w
      mount -t overlay -o lowerdir=$lower,upperdir=/run/xc-layer/$t/u,workdir=/run/xc-layer/$t/w overlay /$t || echo "xc: the overlay of /$t failed" > /dev/console
    }
    mkdir /run/xc-layer
    for d in /xp/*; do
      d=\${d#/xp/}
      case $d in bin|sbin|lib|lib64|lost+found|run|proc|sys|dev|tmp) continue ;; esac
      [ -d /xp/$d ] && [ ! -L /xp/$d ] && layer $d /xp/$d /xt/$d
    done
    # The layer's /usr is merged (Debian 12): /bin is /usr/bin of the layer and the tools, over busybox.
    for d in bin sbin lib lib64; do layer $d /xp/usr/$d /xt/usr/$d /xt/$d; done
    # /lib/modules now shows the tools' modules (the tools' /lib is a lower), /etc the tools' files;
    # /bin/sh is dash, as the tools' setup makes it without a layer.
    if [ -x /usr/bin/dash ]; then ln -sf /usr/bin/dash /bin/sh; else ln -sf /bin/dash /bin/sh; fi
    # The kernel's module requests go to busybox modprobe (the modules.dep it reads), whatever the layer has.
    mkdir -p /run/xc-bin && ln -sf /bin/busybox /run/xc-bin/modprobe && echo /run/xc-bin/modprobe > /proc/sys/kernel/modprobe
    . /xp/.xc/setup
  else
    echo "xc: the package layer did not mount" > /dev/console
    . /xt/xt-setup
  fi
fi
# Overlays: /xcluster/ovl/<order>-<name> (a directory or a .tar), first the
# common ones, then those of this VM's role, then this VM's own, each in sort order.
case $v in
  [1-9]|[1-9][0-9]|1[0-9][0-9]|200) role=node ;;
  20[1-9]|21[0-9]|220) role=router ;;
  *) role=tester ;;
esac
for d in /xcluster/ovl/all /xcluster/ovl/$role /xcluster/ovl/$name; do
  [ -d $d ] || continue
  for o in $(ls $d | sort); do
    if [ -d $d/$o ]; then cp -a $d/$o/. /
    else tar -x -C / -f $d/$o || echo "xc: overlay $o failed" > /dev/console
    fi
  done
done
telnetd -l /etc/xcluster/login
echo "${PHASE} telnet $(cut -d' ' -f1 /proc/uptime)" > /dev/console
# rc scripts: stdout to /var/log/<script>.log, stderr to .err. One that exits
# non-zero or is not executable is recorded in /run/xcluster-rc-failed (its
# code and last lines, each line prefixed "|"), which xc-ctl hands to the harness.
for rc in $(ls /etc/init.d/*.rc 2>/dev/null | sort); do
  b=\${rc##*/}
  if [ ! -x $rc ]; then
    echo "xc: $rc is not executable: not run" > /dev/console
    printf 'script %s\\nnot-executable\\n' $rc >> /run/xcluster-rc-failed
    continue
  fi
  $rc start > /var/log/$b.log 2> /var/log/$b.err
  code=$?
  [ $code = 0 ] && continue
  echo "xc: $rc exited with $code: $(tail -n 1 /var/log/$b.err)" > /dev/console
  { printf 'script %s\\nexit %s\\nstdout\\n' $rc $code; tail -n 10 /var/log/$b.log | awk '{ print "|" $0 }'
    echo stderr; tail -n 10 /var/log/$b.err | awk '{ print "|" $0 }'; } >> /run/xcluster-rc-failed
done
echo "${PHASE} ready $(cut -d' ' -f1 /proc/uptime)" > /dev/console
touch /run/xcluster-ready
`


/**
 * Login program of telnetd: an interactive root shell for humans, or the
 * harness's control channel. With a key (/etc/xcluster/key, this VM's own,
 * made at boot from the cluster's secret) the login first prints a challenge,
 * `xc-challenge: <name> <nonce>`, and wants back the login answer
 * sha256("<key> <name> <nonce>") (control/login.ts), followed by " ctl" for
 * the control channel. The key never crosses the socket, so whatever listens
 * where the client expected this VM learns nothing it could replay to this
 * or any other VM: the nonce is fresh, and the name binds the answer to the
 * VM the client means. An answer must come within ${LOGIN_ANSWER_SEC} s, and at most
 * ${LOGIN_PENDING_MAX} logins wait for one at once (idle connections cannot pile up).
 * Builtins where they do: each program started costs milliseconds under TCG.
 * busybox's ash, whatever /bin/sh is (with the tools it is dash, whose read
 * has no timeout).
 */
export const LOGIN_SCRIPT = `#!/bin/busybox ash
if [ -r /etc/xcluster/key ]; then
  stty -echo 2>/dev/null
  # A file per login waiting for its answer, named by its pid; those of logins gone (a dropped connection) do not count.
  n=0
  for f in /run/xc-login/*; do
    [ -e "$f" ] || continue
    if [ -d /proc/\${f##*/} ]; then n=$((n+1)); else rm -f "$f"; fi
  done
  if [ $n -ge ${LOGIN_PENDING_MAX} ]; then echo 'xc: too many logins wait for their answer'; exit 1; fi
  w=/run/xc-login/$$
  : > $w
  trap 'rm -f $w; exit 1' HUP INT TERM
  read -r nonce < /proc/sys/kernel/random/uuid
  read -r name < /etc/hostname
  printf '${CHALLENGE_PROMPT}%s %s\\n' "$name" "$nonce"
  IFS= read -t ${LOGIN_ANSWER_SEC} -r answer
  ok=$?
  rm -f $w
  [ $ok = 0 ] || exit 1
  read -r key < /etc/xcluster/key
  want=$(printf '%s %s %s' "$key" "$name" "$nonce" | sha256sum)
  want=\${want%% *}
  key=
  # A person's telnet client may end the line with CR.
  answer=\${answer%\r}
  case "$answer" in
    "$want ctl") exec /bin/xc-ctl ;;
    "$want") ;;
    *) echo; echo 'xc: wrong answer'; exit 1 ;;
  esac
  stty echo 2>/dev/null
  echo
fi
[ -x /bin/bash ] && exec /bin/bash -l
exec /bin/sh -l
`

export const PROFILE = `export PATH=/bin:/sbin:/usr/bin:/usr/sbin
[ -r /etc/xcluster/cluster.env ] && . /etc/xcluster/cluster.env
[ "$XCLUSTER_TOOLS" = yes ] && export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PS1='\\h # '
`

/**
 * The harness's control channel. The harness answers the login's challenge
 * with ` ctl` after the answer (or, with no key, types `exec /bin/xc-ctl` at
 * the interactive prompt); from then on the session is a framed, non-interactive
 * shell: no echo, no prompt, no line editing, raw bytes. It answers only once
 * the boot script has finished, so a VM is ready when its rc scripts are done.
 *
 * Request: `<id> p <command>` (printable ASCII) or `<id> b <base64 command>`.
 * Reply:   <stdout> RS "XC-ERR <id>" LF <stderr> RS "XC-END <id> <status>" LF
 * where RS is the byte 0x1e. Each command runs in a subshell with stdin from
 * /dev/null, so it can neither end the channel nor read the next request.
 */
export const CTL_SCRIPT = `#!/bin/sh
# The environment of a login shell (PATH, the cluster's settings), also when the login execs this directly.
. /etc/profile
stty raw -echo 2>/dev/null
cd /
err=/tmp/.xc-err.$$
# Ready means booted: overlays unpacked and every rc script done.
while [ ! -e /run/xcluster-ready ]; do usleep 10000; done
# The rc scripts that failed (see the boot script), one base64 line before the ready marker.
[ -s /run/xcluster-rc-failed ] && printf '${RS_PRINTF}${MARK.rcReport} %s\\n' "$(base64 -w 0 /run/xcluster-rc-failed)"
printf '${RS_PRINTF}${MARK.ready}\\n'
while IFS= read -r line; do
  id=\${line%% *}; rest=\${line#* }
  mode=\${rest%% *}; cmd=\${rest#* }
  [ "$mode" = b ] && cmd=$(printf '%s' "$cmd" | base64 -d)
  ( eval "$cmd" ) </dev/null 2>$err
  rc=$?
  printf '${RS_PRINTF}${MARK.err} %s\\n' "$id"
  [ -s $err ] && cat $err
  printf '${RS_PRINTF}${MARK.end} %s %d\\n' "$id" $rc
done
`


/**
 * An rc script that gives every NIC beyond eth0 the std addresses of its
 * net: ethN on net k (the 5th byte of its MAC) gets 192.168.k.v/24 and
 * $PREFIX:192.168.k.v/120 (option `stdAddresses`). With
 * /etc/xcluster/std-nets (`stdAddresses: [nets]`) only the NICs on those nets
 * do; the others come up without an address (bridge ports, unnumbered links).
 */
export const STD_ADDRESSES_RC = `#!/bin/sh
. /etc/profile
v=$(hostname | sed 's/vm-0*//')
only=$(cat /etc/xcluster/std-nets 2>/dev/null || echo all)
for dev in /sys/class/net/eth*; do
  dev=\${dev##*/}
  [ "$dev" = eth0 ] && continue
  mac=$(cat /sys/class/net/$dev/address)
  net=$((0x$(echo $mac | cut -d: -f5)))
  echo 0 > /proc/sys/net/ipv6/conf/$dev/accept_dad
  case " $only " in
  *" all "*|*" $net "*)
    ip addr add 192.168.$net.$v/24 dev $dev
    ip -6 addr add $PREFIX:192.168.$net.$v/120 dev $dev;;
  esac
  ip link set $dev up
done
`
