#!/bin/sh
# Installed as /usr/local/bin/containerd, ahead of /usr/bin in PATH: the inner dockerd starts the
# containerd it finds in PATH, so it starts this, which runs the real one with a smaller Go heap
# target (GOGC=20 instead of Go's 100; https://pkg.go.dev/runtime#hdr-Environment_Variables).
# In a sandbox, containerd is nearly idle: dockerd pulls, unpacks and builds by itself. Collecting
# garbage five times as often cost containerd 0.02 s of CPU over a pull, build, run, save and load
# of node:18-alpine, and saves about 1.3 MiB per idle sandbox (bench/sandbox_memory.py; DESIGN.md's
# target is 40 MiB). dockerd keeps Go's default: GOGC=25 would save 1 MiB more but cost it 30 %
# more CPU on the same work (measured in the same run).
export GOGC=20
exec /usr/bin/containerd "$@"
