#!/bin/sh
# Entry point of bungeo's nginx stand-in. Like the official nginx image, when the command is
# nginx it first fills in configuration templates: each /etc/nginx/templates/<path>.template
# becomes /etc/nginx/conf.d/<path>, with ${NAME} replaced by the environment variable NAME
# (only variables that are set: nginx's own $host, $uri ... stay as they are). The same
# settings as the official image change the folders: NGINX_ENVSUBST_TEMPLATE_DIR,
# NGINX_ENVSUBST_TEMPLATE_SUFFIX, NGINX_ENVSUBST_OUTPUT_DIR. Any other command runs as given.
set -eu
case "${1:-}" in
  nginx|nginx-debug)
    tdir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
    suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
    odir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
    if [ -d "$tdir" ]; then
      # The names of the variables that are set, as envsubst's list: '${A} ${B} ...'.
      names=$(awk 'BEGIN { for (n in ENVIRON) if (n ~ /^[A-Za-z_][A-Za-z0-9_]*$/) printf "${%s} ", n }')
      find "$tdir" -follow -type f -name "*$suffix" | while IFS= read -r t; do
        rel="${t#"$tdir"/}"
        out="$odir/${rel%"$suffix"}"
        mkdir -p "$(dirname "$out")"
        envsubst "$names" < "$t" > "$out"
        echo "$0: $t -> $out" >&2
      done
    fi
    ;;
esac
exec "$@"
