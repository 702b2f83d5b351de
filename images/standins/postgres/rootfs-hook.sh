#!/bin/sh
# mmdebstrap customize hook of the postgres stand-in ($1: the new root, seen from outside).
# - Drop LLVM and its solver (about 130 MB): they serve only PostgreSQL's JIT compiler, which the
#   server skips without a word when its llvmjit library is missing (jit_provider, PostgreSQL
#   docs "JIT Compilation"); every grading sandbox pulls this image, so size is time.
# - Drop the "main" cluster that Debian's package creates at install: the entry point makes its
#   own cluster in PGDATA on first start, like the official image.
set -eu
root="$1"
rm -f "$root"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* "$root"/usr/lib/x86_64-linux-gnu/libz3.so* \
      "$root"/usr/lib/postgresql/*/lib/llvmjit*.so
rm -rf "$root"/usr/lib/postgresql/*/lib/bitcode
rm -rf "$root"/var/lib/postgresql/[0-9]* "$root"/etc/postgresql/[0-9]*
