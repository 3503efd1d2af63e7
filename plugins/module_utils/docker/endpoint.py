# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the Docker engine is and how to reach it: the connection options every module takes, with
community.docker's names, aliases and DOCKER_* environment variables, and the client arguments
they make (base URL, API version, timeout, TLS files and the name the engine's certificate must
carry). Pure: the client itself is made in docker.client."""

from __future__ import annotations

import os

from ansible.module_utils.basic import env_fallback

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT = 60

CONNECTION_ARGS = dict(
    docker_host=dict(type="str", aliases=["docker_url"], fallback=(env_fallback, ["DOCKER_HOST"])),
    tls=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS"])),
    validate_certs=dict(type="bool", default=False, aliases=["tls_verify"],
                        fallback=(env_fallback, ["DOCKER_TLS_VERIFY"])),
    ca_path=dict(type="path", aliases=["tls_ca_cert", "cacert_path"]),  # not ca_cert: the tls module's CA
    client_cert=dict(type="path", aliases=["tls_client_cert", "cert_path"]),
    client_key=dict(type="path", aliases=["tls_client_key", "key_path"], no_log=False),
    tls_hostname=dict(type="str", fallback=(env_fallback, ["DOCKER_TLS_HOSTNAME"])),
    api_version=dict(type="str", default="auto", aliases=["docker_api_version"],
                     fallback=(env_fallback, ["DOCKER_API_VERSION"])),
    timeout=dict(type="int", default=DEFAULT_TIMEOUT, aliases=["docker_timeout"],
                 fallback=(env_fallback, ["DOCKER_TIMEOUT"])),
    use_ssh_client=dict(type="bool", default=False),
)

# the files DOCKER_CERT_PATH holds, as the docker CLI names them
CERT_PATH_FILES = {"ca_path": "ca.pem", "client_cert": "cert.pem", "client_key": "key.pem"}


def connection_options(params: dict) -> dict:
    """The connection options of `params`, to hand to an engine run on behalf of this module."""
    return {name: params.get(name) for name in CONNECTION_ARGS}


def tls_files(params: dict, environ) -> dict:
    """ca_path, client_cert and client_key: the options', else the files of DOCKER_CERT_PATH that exist."""
    cert_dir = environ.get("DOCKER_CERT_PATH")
    files = {}
    for option, file_name in CERT_PATH_FILES.items():
        value = params.get(option)
        if not value and cert_dir and os.path.isfile(os.path.join(cert_dir, file_name)):
            value = os.path.join(cert_dir, file_name)
        files[option] = value
    return files


def client_arguments(params: dict, environ=None) -> dict:
    """Arguments of the engine client: base_url, version, timeout, use_ssh_client, and `tls` (None,
    or the TLSConfig arguments client_cert, ca_cert, verify) and `tls_hostname` (None or the name the
    engine's certificate is checked for instead of the URL's host). PgdockError for an impossible mix."""
    environ = os.environ if environ is None else environ
    base_url = params.get("docker_host") or environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    files = tls_files(params, environ)
    verify = bool(params.get("validate_certs"))
    if bool(files["client_cert"]) != bool(files["client_key"]):
        given, missing = ("client_cert", "client_key") if files["client_cert"] else ("client_key", "client_cert")
        raise PgdockError(f"{given} is given without {missing}: the engine's client certificate needs both")
    for option, path in files.items():
        if path and not os.path.isfile(path):
            raise PgdockError(f"{option}: no file {path!r} on the host the module runs on")
    if verify and not files["ca_path"]:
        raise PgdockError("validate_certs: give ca_path (or DOCKER_CERT_PATH with ca.pem), the CA that signed "
                          "the engine's certificate")
    if base_url.startswith("ssh://") and (verify or params.get("tls")):
        raise PgdockError("tls and validate_certs do not apply to an ssh:// docker_host")
    tls = None
    if verify or params.get("tls"):
        tls = dict(client_cert=(files["client_cert"], files["client_key"]) if files["client_cert"] else None,
                   ca_cert=files["ca_path"] if verify else None, verify=verify)
    return dict(base_url=base_url, version=params.get("api_version") or "auto",
                timeout=params.get("timeout") or DEFAULT_TIMEOUT, use_ssh_client=bool(params.get("use_ssh_client")),
                tls=tls, tls_hostname=params.get("tls_hostname") if verify else None)
