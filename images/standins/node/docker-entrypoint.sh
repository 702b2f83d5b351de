#!/bin/sh
# Entry point of the official node images: run the command, or `node` with the arguments when
# the first one is an option or a JavaScript file (`docker run node:18 app.js`).
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
