#!/bin/sh
# mmdebstrap customize hook of the node stand-in, run on the host as root with the new root
# filesystem as $1 (its /dev, /proc and /sys mounted; the host's network and resolv.conf).
#
# 1. npm: Debian's npm 9.2 (in the recipe's packages) installs npm $NPM_VERSION, the version the
#    official node:18 images ship, under /usr/local as they have it; then Debian's npm and the
#    node-* packages it pulled in are purged, with perl (45 MB that node never uses).
# 2. The offline npm cache: fill-npm-cache.js fills /opt/npm-cache with the packages listed in
#    npm-cache.txt and everything npm can pick for their dependency trees, plus every version
#    pinned by the lock files in locks/ (links to the assignments' package-lock.json files, so a
#    changed lock file changes this recipe's hash). It is world-writable with the sticky bit so
#    that `USER node` can run npm too.
# 3. The `node` user (uid 1000, home /home/node) that the official images have.
#
# Downloads use the registry of npm's own configuration and the host's trust store (so a TLS
# proxy's CA that the host trusts works too); neither is kept in the image.
set -eu
NPM_VERSION=10.8.2
root="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work=/tmp/bungeo-node-hook
rm -rf "$root$work"
mkdir -p "$root$work/home"
trap 'rm -rf "$root$work"' EXIT
cp "$here/fill-npm-cache.js" "$here/npm-cache.txt" "$root$work/"
mkdir "$root$work/locks"
locks=""
for lock in "$here"/locks/*.json; do
  [ -e "$lock" ] || continue
  cp "$lock" "$root$work/locks/"
  locks="$locks $work/locks/$(basename "$lock")"
done
ca=""
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root$work/host-ca.crt"
  ca="$work/host-ca.crt"
fi

in_root() {
  chroot "$root" env -u APT_CONFIG HOME="$work/home" ${ca:+NODE_EXTRA_CA_CERTS="$ca"} \
    npm_config_cache="$work/npm" npm_config_update_notifier=false npm_config_fund=false \
    npm_config_audit=false "$@"
}

in_root /usr/bin/npm install --global --prefix /usr/local --no-progress "npm@$NPM_VERSION"
# Perl (45 MB, left by the /usr merge of the new root) serves nothing here: debconf needs only
# perl-base, which stays.
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q --autoremove npm perl \
  $(chroot "$root" dpkg-query -W -f '${Package} ' 'libperl5*' 'perl-modules-*') >/dev/null
# The official images' npm sits in /usr/local with its global prefix there; npm's "builtin"
# config file says so, since this node lives in /usr/bin.
echo "prefix=/usr/local" > "$root/usr/local/lib/node_modules/npm/npmrc"
test "$(in_root /usr/local/bin/npm --version)" = "$NPM_VERSION"

registry="$(in_root /usr/local/bin/npm config get registry)"
in_root env npm_config_registry="$registry" NPM_CLI=/usr/local/bin/npm \
  node "$work/fill-npm-cache.js" "$work/npm-cache.txt" /opt/npm-cache $locks
rm -rf "$root/opt/npm-cache/_logs"
mkdir "$root/opt/npm-cache/_logs"
chmod -R a+rwX "$root/opt/npm-cache"
chmod 1777 "$root/opt/npm-cache" "$root/opt/npm-cache/_logs"

chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/sh --create-home node
