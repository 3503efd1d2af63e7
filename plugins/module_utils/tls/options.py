# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `tls` module's options (OPTIONS, without the connection options), its whole argument spec
and the constraints between options, for the module and for engines that need its defaults."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import DEFAULT_CA_DIR, POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import PG_CONNECTION_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.tls.certs import KEY_TYPES
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs


def renamed_from(old: str) -> dict:
    """The old name of a renamed option, kept as a deprecated alias until 2.0.0."""
    return dict(aliases=[old], deprecated_aliases=[dict(name=old, version="2.0.0", collection_name="pgdock.postgres")])


OPTIONS = dict(
    dest_dir=dict(type="path"),
    postgres_uid=dict(type="int", default=POSTGRES_UID),
    ca_dir=dict(type="path", default=DEFAULT_CA_DIR),
    # ca_cert, ca_key and ca_key_passphrase until 2.0.0: ca_cert is the CA that verifies a server elsewhere
    ownca_cert=dict(type="str", **renamed_from("ca_cert")),
    ownca_key=dict(type="str", no_log=True, **renamed_from("ca_key")),
    ownca_key_passphrase=dict(type="str", no_log=True, **renamed_from("ca_key_passphrase")),
    ca_common_name=dict(type="str", default="pgdock.postgres CA"),
    ca_validity_days=dict(type="int", default=3650),
    common_name=dict(type="str"),
    subject_alt_names=dict(type="list", elements="str", default=[]),
    container_aliases=dict(type="bool", default=True),
    client_certs=dict(type="list", elements="str", default=[]),
    client_dir=dict(type="path"),
    client_uid=dict(type="int"),
    key_type=dict(type="str", choices=list(KEY_TYPES), default="ec-p256"),
    validity_days=dict(type="int", default=397),
    renew_before=dict(type="int", default=30),
    force=dict(type="bool", default=False),
    reload=dict(type="bool", default=True),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(PG_CONNECTION_ARGS, DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
    required_together=[("ownca_cert", "ownca_key")],
    required_by={"ownca_key_passphrase": "ownca_key"},
)
