# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `switchover` module's options (OPTIONS, without the Docker connection options), its whole
argument spec and constraints."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import DEFAULT_LOCK_DIR
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    pooler=dict(type="str", required=True),
    target=dict(type="str", required=True),
    max_lag_bytes=dict(type="int", default=16 * 1024 * 1024),
    pause_timeout=dict(type="int", default=10),
    catchup_timeout=dict(type="int", default=30),
    stop_timeout=dict(type="int", default=60),
    rejoin=dict(type="bool", default=True),
    replication_user=dict(type="str", default="replicator"),
    lock_dir=dict(type="path", default=DEFAULT_LOCK_DIR),
    wait_timeout=dict(type="int", default=300),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(supports_check_mode=True)
