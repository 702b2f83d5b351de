#!/bin/sh
# Runs whatever CMD says, as the last process of the container (exec).
set -e
exec "$@"
