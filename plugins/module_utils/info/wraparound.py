# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info module's `wraparound` section: how old each database's oldest unfrozen transaction
and multixact IDs are, against autovacuum's freeze ages and the hard limit where the server stops
assigning IDs; the database closest to it, and a warning above WARN_PERCENT of that limit."""

from __future__ import annotations

WRAP_LIMIT = 2 ** 31          # IDs are 32 bits compared modulo 2^32: half of them are "the past"
STOP_MARGIN = 3_000_000       # PostgreSQL 14+ refuses new IDs this far before the wrap limit
OLD_STOP_MARGIN = 1_000_000   # before 14
WARN_PERCENT = 50

QUERY = """
    select datname as name, datallowconn as allows_connections,
           age(datfrozenxid)::bigint as xid_age, mxid_age(datminmxid)::bigint as mxid_age,
           current_setting('autovacuum_freeze_max_age')::bigint as freeze_max_age,
           current_setting('autovacuum_multixact_freeze_max_age')::bigint as multixact_freeze_max_age
    from pg_database order by datname"""


def hard_limit(server_version_num: int) -> int:
    """The age at which the server refuses to assign new transaction (or multixact) IDs."""
    return WRAP_LIMIT - (STOP_MARGIN if server_version_num >= 140000 else OLD_STOP_MARGIN)


def wraparound_facts(g) -> dict:
    """Transaction and multixact ID ages of every database against their limits."""
    return wraparound_summary(g.session.rows(QUERY, dicts=True), hard_limit(g.session.version))


def percent(value: int, limit: int) -> float | None:
    """`value` as a percentage of `limit`, two decimals."""
    return round(100.0 * value / limit, 2) if limit else None


def wraparound_summary(rows: list, limit: int, warn_percent: float = WARN_PERCENT) -> dict:
    """Per database the ages and their shares of the freeze ages and of `limit`; the database
    closest to the limit (by the larger of its two shares) and a warning for each one above
    `warn_percent` of it."""
    freeze = rows[0]["freeze_max_age"] if rows else None
    multixact_freeze = rows[0]["multixact_freeze_max_age"] if rows else None
    databases = {}
    for row in rows:
        databases[row["name"]] = {
            "allows_connections": row["allows_connections"],
            "xid_age": row["xid_age"],
            "xid_percent_of_freeze_max_age": percent(row["xid_age"], freeze),
            "xid_percent_of_hard_limit": percent(row["xid_age"], limit),
            "mxid_age": row["mxid_age"],
            "mxid_percent_of_freeze_max_age": percent(row["mxid_age"], multixact_freeze),
            "mxid_percent_of_hard_limit": percent(row["mxid_age"], limit),
        }
    closest, warnings = None, []
    for name, facts in databases.items():
        share = max(facts["xid_percent_of_hard_limit"], facts["mxid_percent_of_hard_limit"])
        if closest is None or share > closest["percent_of_hard_limit"]:
            closest = {"database": name, "percent_of_hard_limit": share, "xid_age": facts["xid_age"],
                       "mxid_age": facts["mxid_age"]}
        if share > warn_percent:
            warnings.append(
                f"database {name!r} is at {share}% of the transaction ID wraparound limit (xid age "
                f"{facts['xid_age']}, multixact age {facts['mxid_age']}, limit {limit}): the server stops "
                "accepting writes there; VACUUM (FREEZE) its oldest tables, and look for what holds "
                "autovacuum back (long transactions, prepared transactions, inactive replication slots)")
    return {"databases": databases, "autovacuum_freeze_max_age": freeze,
            "autovacuum_multixact_freeze_max_age": multixact_freeze, "hard_limit": limit,
            "warn_percent": warn_percent, "closest": closest, "warnings": warnings}
