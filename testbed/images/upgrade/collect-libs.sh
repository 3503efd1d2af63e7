#!/bin/sh
# collect-libs.sh MAJOR: the shared libraries that MAJOR's binaries and modules load, into /pgdock-compat
# (JIT left out: its LLVM is large and pg_upgrade never needs it)
set -eu
major=$1
dir=/usr/lib/postgresql/$major
rm -f "$dir"/lib/llvmjit*.so
rm -rf "$dir"/lib/bitcode
mkdir -p /pgdock-compat
for f in "$dir"/bin/* "$dir"/lib/*.so; do
  ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  cp -L "$lib" /pgdock-compat/
done
