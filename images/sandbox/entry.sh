#!/bin/sh
# Entry point of a learner's sandbox (PID 1 is docker-init). Runs as root in a user namespace.
# 1. Wait until bungeo (root on the host) has handed this sandbox's own cgroup directories to the
#    remapped root and written /run/bungeo-host/ready (DESIGN.md, "Sandboxes"); on cgroup v2,
#    move to a leaf cgroup (bungeo-cgroup2).
# 2. Run the inner Docker engine, restarting it if it dies, listening on the usual socket and on
#    a socket in the host-shared directory that bungeo's step checks use.
set -u
i=0
while [ ! -e /run/bungeo-host/ready ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
# On a cgroup v2 host: this sandbox's processes move to a leaf cgroup so that the inner engine
# can give controllers to its containers (see the script; nothing on cgroup v1).
bungeo-cgroup2 2>>/var/log/bungeo-cgroup2.log
# The terminal relay: bungeo connects to term.sock for each terminal instead of running
# `docker exec`, whose stream costs the host's dockerd and containerd-shim a copy of every byte
# (bench/echo_latency.py). Each connection gets its own pty running bungeo-term.
( while true; do
    socat UNIX-LISTEN:/run/bungeo-host/term.sock,fork,unlink-early,mode=600,max-children=32 \
          EXEC:/usr/local/bin/bungeo-term,pty,setsid,ctty,stderr,echo=0 2>>/var/log/bungeo-term.log
    sleep 1
  done ) &
MIRROR="${BUNGEO_MIRROR:-}"
set -- --host unix:///var/run/docker.sock --host unix:///run/bungeo-host/docker.sock \
       --log-level warn --log-opt max-size=5m --log-opt max-file=2
if [ -n "$MIRROR" ]; then
  set -- "$@" --registry-mirror "http://$MIRROR" --insecure-registry "$MIRROR"
fi
# Offline (bungeo gives the sandbox the resolver 127.0.0.1, where nothing answers), the inner
# engine would give containers on its default bridge Docker's fallback servers (8.8.8.8), which
# the host's firewall drops: every lookup there stalled 10-20 s (QA: the networking lesson's
# 'wget http://api' took 21 s to say "bad address"). Its own bridge address answers "nobody
# here" at once (docker0, 172.17.0.1, as Docker picks it when no route takes that range).
if [ "$(grep '^nameserver' /etc/resolv.conf 2>/dev/null)" = "nameserver 127.0.0.1" ]; then
  set -- "$@" --dns 172.17.0.1
fi
# Stopping the sandbox (a reset, the time limit, the idle reaper) sends TERM here: the inner
# engine then shuts down like on a machine that powers off, so the learner's containers show the
# exit code of their own stop (nginx: 0) instead of 255 (an engine that died), and restart
# policies apply on the next start. Containers whose main process ignores TERM (a `sleep`, a
# Python script) would hold the engine for their 10 s stop timeout, past bungeo's stop grace
# (5 s): after STOP_GRACE_S they are killed, which they show as 137, like after `docker stop`.
STOP_GRACE_S=1.5
ENGINE_GRACE_S=1.5
stopping=0
dpid=
on_stop() {
  stopping=1
  [ -n "$dpid" ] || exit 0
  kill -TERM "$dpid" 2>/dev/null
  ( sleep "$STOP_GRACE_S"
    shims=$(pgrep -d, -f containerd-shim) && pkill -KILL -P "$shims"
    # The engine's own shutdown then waits for its open API streams (the lab page's watch of
    # its events) until bungeo's stop grace is over and the whole sandbox is killed (5 s, exit
    # 137, a reset 8 s). Its containers are down by now: nothing is left for it to save.
    sleep "$ENGINE_GRACE_S"
    [ "$(cat "/proc/$dpid/comm" 2>/dev/null)" = dockerd ] && kill -KILL "$dpid" ) &
}
trap on_stop TERM INT
while [ "$stopping" = 0 ]; do
  rm -f /var/run/docker.pid
  # GOMAXPROCS: the sandbox's CPU limit (bungeo sets it; isolation.engine_gomaxprocs).
  GOMAXPROCS="${BUNGEO_ENGINE_GOMAXPROCS:-}" dockerd "$@" >>/var/log/dockerd.log 2>&1 &
  dpid=$!
  # A trapped signal interrupts `wait`: wait again until the engine has really exited (until
  # it is reaped, `kill -0` answers for it).
  rc=0
  while kill -0 "$dpid" 2>/dev/null; do wait "$dpid"; rc=$?; done
  [ "$stopping" = 0 ] || break
  dpid=
  echo "inner dockerd exited with $rc; restarting in 1 s" >>/var/log/dockerd.log
  sleep 1
done
