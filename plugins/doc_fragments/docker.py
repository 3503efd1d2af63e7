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
      - The Docker engine to talk to, for example V(unix:///var/run/docker.sock) or V(tcp://127.0.0.1:2376).
      - When not given, the E(DOCKER_HOST) environment variable is used, and then the local socket.
      - Host paths (secrets, certificates, init scripts) are written on the host the module runs on,
        so run the module on the Docker host itself.
    type: str
  docker_timeout:
    description:
      - Seconds to wait for one answer of the Docker engine.
    type: int
    default: 60
requirements:
  - docker (Python SDK) >= 7.1.0
notes:
  - The modules talk to the engine with the Docker SDK for Python; they need no docker CLI.
"""
