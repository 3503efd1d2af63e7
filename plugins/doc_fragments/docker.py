# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment for the Docker connection options."""

from __future__ import annotations


class ModuleDocFragment(object):
    """Options that say how to reach the Docker engine."""

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker engine to talk to, for example V(unix:///var/run/docker.sock), V(tcp://127.0.0.1:2376)
        or V(ssh://user@host).
      - When not given, the E(DOCKER_HOST) environment variable is used, and then the local socket.
      - The E(DOCKER_*) variables of the other options are read also when O(docker_host) is given.
      - Host paths (secrets, certificates, init scripts) are written on the host the module runs on,
        so run the module on the Docker host itself.
    type: str
    aliases: [docker_url]
  tls:
    description:
      - Talk to the engine over TLS without checking its certificate (see O(validate_certs) to check it).
      - E(DOCKER_TLS) when not given.
    type: bool
    default: false
  validate_certs:
    description:
      - Talk to the engine over TLS and check its certificate against O(ca_path), and its name against
        O(tls_hostname) or the host of O(docker_host).
      - E(DOCKER_TLS_VERIFY) when not given.
    type: bool
    default: false
    aliases: [tls_verify]
  ca_path:
    description:
      - The CA that signed the engine's certificate (PEM).
      - When not given, C(ca.pem) in the directory E(DOCKER_CERT_PATH) names, when it exists.
      - community.docker's alias C(ca_cert) is not one here (P(pgdock.postgres.tls#module) has an option of that name).
    type: path
    aliases: [tls_ca_cert, cacert_path]
  client_cert:
    description:
      - The client certificate (PEM) the engine asks for with C(--tlsverify); with O(client_key).
      - When not given, C(cert.pem) in E(DOCKER_CERT_PATH), when it exists.
    type: path
    aliases: [tls_client_cert, cert_path]
  client_key:
    description:
      - The key of O(client_cert) (PEM).
      - When not given, C(key.pem) in E(DOCKER_CERT_PATH), when it exists.
    type: path
    aliases: [tls_client_key, key_path]
  tls_hostname:
    description:
      - The name the engine's certificate must carry, when it differs from the host of O(docker_host)
        (for example a certificate for C(docker.example.net) reached at V(tcp://127.0.0.1:2376)).
      - Only with O(validate_certs). E(DOCKER_TLS_HOSTNAME) when not given.
    type: str
  api_version:
    description:
      - The engine API version to speak; V(auto) asks the engine.
      - E(DOCKER_API_VERSION) when not given.
    type: str
    default: auto
    aliases: [docker_api_version]
  timeout:
    description:
      - Seconds to wait for one answer of the Docker engine.
      - E(DOCKER_TIMEOUT) when not given.
    type: int
    default: 60
    aliases: [docker_timeout]
  use_ssh_client:
    description:
      - For an V(ssh://) O(docker_host), use the C(ssh) command of the host instead of the SDK's own SSH client.
    type: bool
    default: false
requirements:
  - docker (Python SDK) >= 7.1.0
notes:
  - The modules talk to the engine with the Docker SDK for Python; they need no docker CLI.
"""
