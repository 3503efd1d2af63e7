#!/usr/bin/env bash
# Certificates for the test bed's TLS-protected Docker endpoint (dockerd --tlsverify on 127.0.0.1):
# a CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, in DIR with the
# names DOCKER_CERT_PATH expects (ca.pem, cert.pem, key.pem) beside server-cert.pem/server-key.pem.
#   testbed/docker-tls.sh DIR    (default /var/lib/pgdock-testbed/docker-tls)
# Kept when they are there and valid for another day; made anew otherwise. Prints the dockerd flags.
set -euo pipefail

dir=${1:-/var/lib/pgdock-testbed/docker-tls}
log() { printf '[docker-tls] %s\n' "$*" >&2; }

valid() {
  for f in ca.pem cert.pem key.pem server-cert.pem server-key.pem; do [ -s "$dir/$f" ] || return 1; done
  openssl x509 -checkend 86400 -noout -in "$dir/server-cert.pem" >/dev/null 2>&1 &&
    openssl x509 -checkend 86400 -noout -in "$dir/cert.pem" >/dev/null 2>&1
}

if ! valid; then
  log "making the CA, server and client certificates in $dir"
  mkdir -p "$dir"
  chmod 0700 "$dir"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
  key "$work/ca-key.pem"
  openssl req -x509 -new -key "$work/ca-key.pem" -subj "/CN=pgdock test bed Docker CA" -days 365 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$work/ca.pem"
  # sign NAME EXTENSIONS: a key and a certificate signed by the CA
  sign() {
    key "$work/$1-key.pem"
    openssl req -new -key "$work/$1-key.pem" -subj "/CN=$2" -out "$work/$1.csr"
    printf '%s\n' "$3" >"$work/$1.ext"
    openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" -CAcreateserial \
      -days 365 -extfile "$work/$1.ext" -out "$work/$1-cert.pem" 2>/dev/null
  }
  sign server localhost "$(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth')"
  sign client pgdock-test-client "extendedKeyUsage=clientAuth"
  install -m 0644 "$work/ca.pem" "$dir/ca.pem"
  install -m 0644 "$work/server-cert.pem" "$dir/server-cert.pem"
  install -m 0600 "$work/server-key.pem" "$dir/server-key.pem"
  install -m 0644 "$work/client-cert.pem" "$dir/cert.pem"
  install -m 0600 "$work/client-key.pem" "$dir/key.pem"
fi
printf '%s\n' "--tlsverify --tlscacert=$dir/ca.pem --tlscert=$dir/server-cert.pem --tlskey=$dir/server-key.pem"
