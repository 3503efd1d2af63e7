# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the old cluster must hand to the new one's initdb (encoding, locale and its provider, data
checksums, WAL segment size, the bootstrap superuser), what it uses that the new image must have
(extensions per database), and its size; read with psql in the running old server's container."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.psql import ContainerSession

TEMPLATE0_QUERY = ("SELECT to_jsonb(d) || jsonb_build_object('encoding_name', pg_encoding_to_char(d.encoding)) "
                   "FROM pg_database d WHERE datname = 'template0'")
CLUSTER_QUERY = ("SELECT current_setting('data_checksums'), current_setting('wal_segment_size'), "
                 "(SELECT rolname FROM pg_authid WHERE oid = 10), "
                 "(SELECT sum(pg_database_size(oid)) FROM pg_database)::bigint")
DATABASES_QUERY = "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname"
EXTENSIONS_QUERY = "SELECT extname, extversion FROM pg_extension ORDER BY extname"
# column options of user objects other than PostgreSQL's own (n_distinct, n_distinct_inherited): the
# new cluster refuses them when pg_upgrade restores the schema
ATTRIBUTE_OPTIONS_QUERY = (
    "SELECT count(*), string_agg(DISTINCT split_part(o, '=', 1), ', '), "
    "(array_agg(format('%s.%I', a.attrelid::regclass, a.attname) ORDER BY a.attrelid, a.attnum))[1:3] "
    "FROM pg_attribute a, unnest(a.attoptions) o WHERE a.attrelid >= 16384 AND a.attnum > 0 "
    "AND NOT a.attisdropped AND split_part(o, '=', 1) NOT IN ('n_distinct', 'n_distinct_inherited')")
# the locale provider letters of pg_database.datlocprovider
PROVIDERS = {"c": "libc", "i": "icu", "b": "builtin"}


@dataclass
class ClusterFacts:
    """The old cluster, as the upgrade needs it."""

    template0: dict
    checksums: bool
    wal_segment_size: str
    bootstrap_user: str
    size_bytes: int
    extensions: dict = field(default_factory=dict)  # database -> {extension: version}
    attribute_options: dict = field(default_factory=dict)  # database -> (count, option names, first columns)


def read_cluster_facts(container) -> ClusterFacts:
    """The facts of the server running in `container` (its superuser over the local socket)."""
    session = ContainerSession(container)
    template0 = json.loads(session.value(TEMPLATE0_QUERY))
    checksums, segment, bootstrap, size = session.rows(CLUSTER_QUERY)[0]
    facts = ClusterFacts(template0, checksums == "on", segment, bootstrap, int(size or 0))
    for (database,) in session.rows(DATABASES_QUERY):
        session = ContainerSession(container, dbname=database)
        facts.extensions[database] = dict(session.rows(EXTENSIONS_QUERY))
        count, names, columns = session.rows(ATTRIBUTE_OPTIONS_QUERY)[0]
        if int(count):
            facts.attribute_options[database] = (int(count), names, columns.strip("{}"))
    return facts


def wal_segsize_mb(setting: str) -> int:
    """SHOW wal_segment_size ('16MB', '1GB') in megabytes, as initdb --wal-segsize takes it."""
    value = setting.strip().upper()
    units = {"MB": 1, "GB": 1024}
    for unit, factor in units.items():
        if value.endswith(unit):
            return int(value[:-len(unit)]) * factor
    raise ValueError(f"unexpected wal_segment_size {setting!r}")


def initdb_args(facts: ClusterFacts, new_major: int) -> list[str]:
    """initdb arguments that make the new cluster match the old one where pg_upgrade requires it
    (checksums, WAL segment size, install user) and where users expect it (encoding, locale)."""
    t0 = facts.template0
    args = ["-U", facts.bootstrap_user, f"--wal-segsize={wal_segsize_mb(facts.wal_segment_size)}",
            f"--encoding={t0['encoding_name']}", f"--lc-collate={t0['datcollate']}", f"--lc-ctype={t0['datctype']}"]
    provider = PROVIDERS.get(t0.get("datlocprovider") or "c", "libc")
    locale = t0.get("datlocale") or t0.get("daticulocale")
    if provider == "icu":
        args += ["--locale-provider=icu", f"--icu-locale={locale}"]
        if t0.get("daticurules"):
            args.append(f"--icu-rules={t0['daticurules']}")
    elif provider == "builtin":
        args += ["--locale-provider=builtin", f"--builtin-locale={locale}"]
    if facts.checksums:
        args.append("--data-checksums")
    elif new_major >= 18:
        args.append("--no-data-checksums")  # 18's initdb turns them on by default; pg_upgrade needs both alike
    return args
