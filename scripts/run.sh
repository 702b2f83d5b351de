#!/usr/bin/env bash
# Run bungeo on one machine: migrate, demo accounts, a Celery worker, and the ASGI server.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST="${1:-127.0.0.1}"; PORT="${2:-8000}"
PY=.venv/bin/python
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
mkdir -p var/log
# A second start beside a running one (or beside what a killed one left) would start a second
# Celery worker and beat, then fail on the port: say so before starting anything.
if ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q .; then
  echo "Port $PORT is already in use: is bungeo already running? See: ss -ltnp 'sport = :$PORT'" >&2
  exit 3
fi
$PY manage.py migrate -v 0
$PY manage.py collectstatic --noinput -v 0
# The Korean interface (the .mo file is built, not kept in git): cheap, and run.sh may be started
# without host-setup.sh (which compiles it too).
$PY manage.py compilemessages -l ko -v 0
echo
echo "bungeo demo accounts (for this machine only):"
$PY manage.py demo-users
echo
# One worker with an embedded beat (periodic housekeeping): enough for one host. Three processes
# and a grading pool of 3 graded a burst of 30 submissions in 5.8-6.5 min on 2 cores (gradings
# spend much of their time waiting on containers; bench/grading_burst.py). BUNGEO_WORKERS changes it.
# Both run as children that the kernel sends SIGTERM when this script ends, even by `kill -9`
# (setpriv --pdeathsig): killed alone, the script left the server and the worker running.
ORPHAN_GUARD=(setpriv --pdeathsig TERM --)
# The last run's worker log is kept beside the new one (after a crash, it says what happened).
[ -f var/log/celery.log ] && mv -f var/log/celery.log var/log/celery.log.1
"${ORPHAN_GUARD[@]}" $PY -m celery -A webapp worker --beat --schedule var/celerybeat-schedule \
  --concurrency "${BUNGEO_WORKERS:-3}" \
  --loglevel INFO >var/log/celery.log 2>&1 &
CELERY_PID=$!
SERVER_PID=
stop() {
  kill $CELERY_PID $SERVER_PID 2>/dev/null || true
  wait 2>/dev/null || true
}
# Ctrl-C, `kill` (TERM) and the server ending by itself all stop both.
trap 'stop; exit 0' INT TERM
trap stop EXIT
echo "Celery worker started (log: var/log/celery.log)"
echo "bungeo is starting on http://$HOST:$PORT/  (Ctrl-C stops it)"
"${ORPHAN_GUARD[@]}" $PY -m uvicorn webapp.asgi:application --host "$HOST" --port "$PORT" \
  --ws websockets-sansio --ws-per-message-deflate false \
  --log-level warning --no-access-log --timeout-graceful-shutdown 5 &
SERVER_PID=$!
wait $SERVER_PID
