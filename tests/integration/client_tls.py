"""Certificates for a pooler's TLS towards its clients, from a CA of the test (or benchmark) in a
directory of its own: the pooler's server certificate, and client certificates for the module's
admin connection (pgdock_admin) and for the application role app; the pooler module's options and a
client's libpq parameters that use them."""

from __future__ import annotations

from pathlib import Path

from ansible_runner import run_module

CERT_MODES = ("verify-ca", "verify-full")


def issue(pooler: str, root: Path, **over) -> dict:
    """The tls module's run: <root>/tls/server.crt for `pooler` (its name, localhost, 127.0.0.1),
    <root>/clients/{pgdock_admin,app}.crt, the CA in <root>/ca."""
    result = run_module("tls", dict(dest_dir=str(root / "tls"), ca_dir=str(root / "ca"), container=pooler,
                                    common_name=pooler, client_certs=["pgdock_admin", "app"],
                                    client_dir=str(root / "clients"), reload=False, **over))
    assert not result.failed, result
    return result


def pooler_options(root: Path, mode: str = "require") -> dict:
    """The pooler module's client TLS options for `mode`, with the files issue() wrote."""
    options = dict(client_tls_sslmode=mode, client_tls_cert_file=str(root / "tls" / "server.crt"),
                   client_tls_key_file=str(root / "tls" / "server.key"))
    if mode in CERT_MODES:
        options.update(client_tls_ca_file=str(root / "ca" / "ca.crt"),
                       admin_tls_cert_file=str(root / "clients" / "pgdock_admin.crt"),
                       admin_tls_key_file=str(root / "clients" / "pgdock_admin.key"))
    return options


def client_params(root: Path, mode: str = "require") -> dict:
    """libpq parameters of the app's connection: verify-full with the CA, its certificate when `mode` asks."""
    params = dict(sslmode="verify-full", sslrootcert=str(root / "ca" / "ca.crt"))
    if mode in CERT_MODES:
        params.update(sslcert=str(root / "clients" / "app.crt"), sslkey=str(root / "clients" / "app.key"))
    return params
