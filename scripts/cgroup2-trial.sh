#!/usr/bin/env bash
# Try bungeo's sandbox layer on a cgroup v2 host with systemd (Debian 12's default), from a host
# that has neither (this project's CI machines are cgroup v1): a throwaway Debian 12 VM under
# qemu's software emulation (no KVM needed), built from the host's apt sources with mmdebstrap.
#
#   scripts/cgroup2-trial.sh [PYTEST_ARGS...]
#
# Default tests: those that depend on the host's cgroups, firewall and services (the engine, a
# sandbox's limits and delegation, pause/top/stats/OOM inside, the pool, most of the attack
# suite); all of them would take hours emulated. Output and the VM's console go to $TRIAL_DIR.
# Not part of 'make test': a first run takes about an hour on 2 cores (the VM, the image load
# into it and the tests all run emulated); later runs reuse the disk (delete it to start over).
# Needs root, about 15 GB in $TRIAL_DIR, and bungeo's images built on this host ('make test').
# The VM reaches nothing but the package registries of the host's apt sources and loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DIR="${TRIAL_DIR:-/var/tmp/bungeo-cgroup2}"
PORT="${TRIAL_SSH_PORT:-2222}"
log() { printf '\033[1;36m[cgroup2]\033[0m %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
mkdir -p "$DIR"

need=()
for p in qemu-system-x86 qemu-utils mmdebstrap openssh-client e2fsprogs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

PYBIN="$(readlink -f "$ROOT/.venv/bin/python3")"   # the venv's interpreter, copied to the same path
PYPREFIX="$(dirname "$(dirname "$PYBIN")")"
if [ ! -f "$DIR/disk.img" ]; then
  log "building the VM's root filesystem (Debian 12, systemd, cgroup v2)"
  rm -rf "$DIR/rootfs"
  mmdebstrap --variant=minbase --include=systemd-sysv,linux-image-amd64,initramfs-tools,\
openssh-server,udev,kmod,procps,iproute2,e2fsprogs,util-linux,ca-certificates,curl,\
docker.io,docker-registry,redis-server,postgresql,iptables,uidmap,gettext,python3-venv,python3-dev,mmdebstrap,\
socat,tmux bookworm "$DIR/rootfs"
  R="$DIR/rootfs"
  echo "/dev/vda / ext4 defaults 0 1" > "$R/etc/fstab"
  echo bungeo-cgroup2 > "$R/etc/hostname"
  printf '[Match]\nName=eth*\n[Network]\nDHCP=yes\n' > "$R/etc/systemd/network/20-wired.network"
  ln -sf /lib/systemd/system/systemd-networkd.service \
    "$R/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  rm -f "$R/etc/resolv.conf"; echo "nameserver 10.0.2.3" > "$R/etc/resolv.conf"  # qemu's own
  [ -f "$DIR/key" ] || ssh-keygen -q -t ed25519 -N "" -f "$DIR/key"
  install -d -m 700 "$R/root/.ssh"; cp "$DIR/key.pub" "$R/root/.ssh/authorized_keys"
  mkdir -p "$R$(dirname "$PYPREFIX")" "$R$ROOT"
  cp -a "$PYPREFIX" "$R$(dirname "$PYPREFIX")/"
  cp -a "$ROOT/.venv" "$R$ROOT/.venv"
  log "saving bungeo's images for the VM"
  # shellcheck disable=SC2046
  docker -H unix:///run/bungeo/engine.sock save -o "$R/root/images.tar" $(docker -H \
    unix:///run/bungeo/engine.sock images --format '{{.Repository}}:{{.Tag}}' | grep '^bungeo/' \
    | grep -v -e rootfs- -e rootless)
  cp "$R"/boot/vmlinuz-* "$DIR/vmlinuz"; cp "$R"/boot/initrd.img-* "$DIR/initrd"
  truncate -s 40G "$DIR/disk.img.new"
  mkfs.ext4 -q -F -d "$R" "$DIR/disk.img.new"
  mv "$DIR/disk.img.new" "$DIR/disk.img"
  rm -rf "$R"
fi

vm() { ssh -q -i "$DIR/key" -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
          -o ConnectTimeout=10 -o ServerAliveInterval=30 root@127.0.0.1 "$@"; }
log "booting the VM (software emulation; about a minute)"
qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m 8G \
  -kernel "$DIR/vmlinuz" -initrd "$DIR/initrd" -append "root=/dev/vda rw console=ttyS0 net.ifnames=0" \
  -drive "file=$DIR/disk.img,format=raw,if=virtio,cache=unsafe" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:22" -device virtio-net-pci,netdev=n0 \
  -display none -serial "file:$DIR/console.log" -monitor none -daemonize -pidfile "$DIR/qemu.pid"
trap 'vm poweroff >/dev/null 2>&1 || kill "$(cat "$DIR/qemu.pid")" 2>/dev/null || true' EXIT
for _ in $(seq 60); do vm true 2>/dev/null && break; sleep 5; done
vm 'systemctl is-system-running --wait >/dev/null 2>&1; stat -fc %T /sys/fs/cgroup' | grep -qx cgroup2fs \
  || { echo "the VM is not on cgroup v2" >&2; exit 1; }

log "copying this checkout into the VM"
git ls-files -z | tar --null -T - -c | vm "mkdir -p $ROOT && tar x -C $ROOT && touch $ROOT/.venv/.installed"
log "setting the VM up as 'make run' would (host-setup.sh run)"
# The engine is started here before host-setup (to load the images, which the VM would take hours
# to build), so Debian's own registry service, which holds the mirror's port, is stopped first
# as host-setup would.
vm "set -e; cd $ROOT; ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -q >/dev/null
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
    .venv/bin/python manage.py sandbox-engine start >/dev/null
    if [ -f /root/images.tar ]; then
      docker -H unix:///run/bungeo/engine.sock load -q -i /root/images.tar && rm /root/images.tar
    fi
    bash scripts/host-setup.sh run
    # The tests' PostgreSQL, which host-setup starts only for 'test' (the attack suite checks
    # that it listens on the host before it checks that a sandbox cannot reach it).
    # Its cluster was made in the VM's root filesystem on this host, whose own PostgreSQL held
    # port 5432 then, so it took 5433: the tests expect 5432.
    ver=\$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_lsclusters -h | grep -q . || pg_createcluster \$ver main >/dev/null
    sed -i 's/^port = .*/port = 5432/' /etc/postgresql/\$ver/main/postgresql.conf
    pg_ctlcluster \$ver main restart 2>/dev/null || pg_ctlcluster \$ver main start
    for _ in \$(seq 100); do pg_isready -h 127.0.0.1 -q && break; sleep 0.2; done" 2>&1 | tail -5

if [ "$#" -eq 0 ]; then  # what depends on the host's cgroups, firewall and services (~40 min)
  set -- tests/sandboxes/test_engine_pidfiles.py tests/sandboxes/test_sandbox_real.py tests/security -k \
    "test_engine or test_registry or test_cgroup_parents or test_inner_engine_pause_top_stats \
     or test_stop_then_ensure_restarts or test_remove_leaves_no_cgroup_behind or test_warm_pool_claim \
     or test_ensure_without_waiting_runs_limited_and_delegated or test_learner_cannot_raise \
     or test_memory_bomb or test_fork_bomb or release_agent or test_root_has_no_capability \
     or test_inner_privileged or test_proc_1_root or test_firewall or test_host_services \
     or test_no_host_block or test_kernel_module"
fi
log "running: pytest $*"
args=$(printf '%q ' "$@")
vm "cd $ROOT && env PYTHONDONTWRITEBYTECODE=1 REDIS_URL=redis://127.0.0.1:6379/15 \
    BUNGEO_SANDBOX_PREFIX=bungeotest BUNGEO_SANDBOX_READY_TIMEOUT=600 .venv/bin/python -m pytest -p no:cacheprovider --timeout=1800 -v -rfE $args" \
  2>&1 | tee "$DIR/pytest.log"
