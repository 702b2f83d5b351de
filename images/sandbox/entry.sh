#!/bin/sh
# Entry point of a learner's sandbox (PID 1 is docker-init). Runs as root in a user namespace.
# 1. Wait until bungeo (root on the host) has handed this sandbox's own cgroup directories to the
#    remapped root and written /run/bungeo-host/ready (DESIGN.md, "Sandboxes").
# 2. Run the inner Docker engine, restarting it if it dies, listening on the usual socket and on
#    a socket in the host-shared directory that bungeo's step checks use.
set -u
i=0
while [ ! -e /run/bungeo-host/ready ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
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
while true; do
  rm -f /var/run/docker.pid
  # GOMAXPROCS: the sandbox's CPU limit (bungeo sets it; isolation.engine_gomaxprocs).
  GOMAXPROCS="${BUNGEO_ENGINE_GOMAXPROCS:-}" dockerd "$@" >>/var/log/dockerd.log 2>&1
  echo "inner dockerd exited with $?; restarting in 1 s" >>/var/log/dockerd.log
  sleep 1
done
