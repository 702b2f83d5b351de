#!/usr/bin/env bash
# Prepare this Debian/Ubuntu host for bungeo: system packages (installed once: only missing ones,
# with one 'apt-get update'), the Python virtualenv, bungeo's dedicated sandbox engine, the
# offline images (cached by recipe hash), and the services a mode needs.
#
#   scripts/host-setup.sh run    what 'make run' needs (SQLite, Redis, sandbox engine, images)
#   scripts/host-setup.sh test   all of the above plus PostgreSQL and Chromium for the tests
set -euo pipefail
mode="${1:-run}"
cd "$(dirname "$0")/.."
ROOT="$PWD"
SUDO=""
AS_POSTGRES=(runuser -u postgres --)
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; AS_POSTGRES=(sudo -u postgres); fi
log() { printf '\033[1;33m[setup]\033[0m %s\n' "$*"; }

packages=(docker.io mmdebstrap docker-registry redis-server iptables iproute2 uidmap gettext
          python3-venv python3-dev ca-certificates curl)
if [ "$mode" = "test" ]; then
  packages+=(postgresql chromium fonts-noto-cjk)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  $SUDO apt-get update -q   # image builds use 'apt-get download'
fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The Debian packages start services through systemd where it exists; bungeo runs its own.
# Debian's docker-registry service listens on *:5000 (with password auth) and so takes the port
# of bungeo's registry mirror on the bridge: every learner's pull then failed with "no basic auth
# credentials". bungeo does not use that service; stop it for good.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  if systemctl is-active --quiet docker-registry || systemctl is-enabled --quiet docker-registry 2>/dev/null; then
    log "stopping and disabling Debian's docker-registry service (it holds *:5000; bungeo runs its own mirror)"
    $SUDO systemctl disable --now docker-registry
  fi
fi

if [ ! -x .venv/bin/python ] || [ pyproject.toml -nt .venv/.installed ]; then
  log "creating the Python environment (.venv)"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
  touch .venv/.installed
fi
PY="$ROOT/.venv/bin/python"

log "starting bungeo's sandbox engine and registry mirror"
$SUDO "$PY" manage.py sandbox-engine start >/dev/null
log "building images (cached by recipe hash; the first build takes a few minutes)"
if [ "$mode" = "test" ]; then
  # The tests cover every isolation mode this host can run, rootless included. Its learner
  # (uid 1000) opens /dev/net/tun for slirp4netns; udev makes that device 0666 on Debian, a
  # host without udev (a container, a minimal VM) may leave it 0600 (root only).
  if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    log "making /dev/net/tun usable by unprivileged users (mode 0666, udev's default)"
    $SUDO chmod 0666 /dev/net/tun
  fi
  $SUDO "$PY" manage.py images build --rootless
else
  $SUDO "$PY" manage.py images build
fi

# Redis: the channel layer and the Celery broker (loopback only).
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting redis-server on 127.0.0.1:6379"
  mkdir -p var/log
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no \
    --logfile "$ROOT/var/log/redis.log"
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ "$mode" = "test" ]; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
    log "starting PostgreSQL $ver"
    if ! pg_lsclusters -h 2>/dev/null | grep -q .; then $SUDO pg_createcluster "$ver" main; fi
    $SUDO pg_ctlcluster "$ver" main start || true
    for _ in $(seq 100); do pg_isready -h 127.0.0.1 -q && break; sleep 0.2; done
  fi
  "${AS_POSTGRES[@]}" psql -q -tc "SELECT 1 FROM pg_roles WHERE rolname='bungeo'" | grep -q 1 || \
    "${AS_POSTGRES[@]}" psql -q -c "CREATE ROLE bungeo LOGIN PASSWORD 'bungeo' CREATEDB"
fi

"$PY" manage.py compilemessages -l ko -v 0
log "host ready"
