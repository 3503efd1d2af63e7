#!/bin/sh
# keep-missing-libs.sh DIR...: keep in each DIR only the libraries whose soname this system lacks
# (its own glibc, OpenSSL and the like stay the ones in use), then let the loader find the rest
set -eu
known=$(ldconfig -p | awk '{print $1}')
for dir in "$@"; do
  for lib in "$dir"/*; do
    name=$(basename "$lib")
    if printf '%s\n' "$known" | grep -qxF "$name"; then rm -f "$lib"; fi
  done
  echo "$dir" >> /etc/ld.so.conf.d/pgdock-compat.conf
done
ldconfig
