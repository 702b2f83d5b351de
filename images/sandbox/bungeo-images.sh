#!/bin/sh
# bungeo-images: the images this classroom's mirror holds, one "name:tag" per line. A sandbox
# has no internet (unless the operator allows it): these are the images it can pull.
set -eu
m=${BUNGEO_MIRROR:-}
if [ -z "$m" ]; then
  echo "bungeo-images: 이 교실에는 미러가 없습니다 / this classroom has no registry mirror" >&2
  exit 1
fi
for repo in $(curl -fsS --max-time 5 "http://$m/v2/_catalog?n=1000" | jq -r '.repositories[]'); do
  curl -fsS --max-time 5 "http://$m/v2/$repo/tags/list" \
    | jq -r --arg r "${repo#library/}" '.tags[]? | "\($r):\(.)"'
done | sort -V
