#!/bin/sh
# On a cgroup v2 host, make this sandbox's cgroup usable by its inner Docker engine.
# Usage: bungeo-cgroup2 [ROOT]   (ROOT: the sandbox's cgroup namespace root, /sys/fs/cgroup)
#
# Under cgroup v2 a cgroup may give domain controllers (memory, io, ...) to its children only
# while it holds no process itself ("no internal process constraint", the kernel's
# Documentation/admin-guide/cgroup-v2.rst). The sandbox's root cgroup holds this sandbox's own
# processes (docker-init, this entry script), so the inner engine could not create containers
# with limits (runc: "cannot enter cgroupv2 ... with domain controllers"). So: move every process
# into a leaf cgroup, ROOT/init, then enable each available controller for the children, one by
# one (one that the host did not delegate must not stop the others). `docker exec` processes
# join the init process's cgroup when the root is busy (runc does that on cgroup v2).
# bungeo hands this directory and its cgroup.procs / cgroup.subtree_control files to the
# sandbox's root before the sandbox starts its work (webapp/sandboxes/docker_backend.py,
# delegate_cgroups). On a cgroup v1 host (no ROOT/cgroup.controllers) it does nothing.
set -u
root="${1:-/sys/fs/cgroup}"
[ -f "$root/cgroup.controllers" ] || exit 0
mkdir -p "$root/init" || exit 1
for pid in $(cat "$root/cgroup.procs"); do
  echo "$pid" >> "$root/init/cgroup.procs" 2>/dev/null || :  # a process that ended meanwhile
done
for ctrl in $(cat "$root/cgroup.controllers"); do
  echo "+$ctrl" >> "$root/cgroup.subtree_control" 2>/dev/null \
    || echo "bungeo-cgroup2: controller $ctrl cannot be enabled for the inner engine" >&2
done
exit 0
