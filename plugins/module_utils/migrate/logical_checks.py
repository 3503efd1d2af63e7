# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure part of the logical method: the names of what it makes (publication, subscription,
slots), table names as skip_tables writes them (schema.table, a part double-quoted as SQL quotes it
when it holds a dot or a quote), and the tables that block logical replication, each with its fix."""

from __future__ import annotations

import hashlib
import re

NAME_MAX = 63


def object_name(target: str) -> str:
    """The publication's and subscriptions' name for a migration into `target`: pgdock_mig_ and the
    target's name in lower case letters, digits and underscores (a hash when it had to be cut), so
    that it is also a valid replication slot name with a suffix of up to 11 characters."""
    clean = re.sub(r"[^a-z0-9_]", "_", target.lower())
    name = f"pgdock_mig_{clean}"
    if len(name) > 48:
        name = f"{name[:39]}_{hashlib.sha1(target.encode()).hexdigest()[:8]}"
    return name


def slot_name(base: str, database_oid: int) -> str:
    """The replication slot of one database's subscription (slot names are the whole server's)."""
    return f"{base}_{database_oid}"[:NAME_MAX]


def quote_part(name: str) -> str:
    """A name as skip_tables writes it: as it is, or double-quoted ("" for ") when it holds a dot or
    a double quote, or has spaces at its ends."""
    if name and "." not in name and '"' not in name and name == name.strip():
        return name
    return '"' + name.replace('"', '""') + '"'


def table_label(schema: str, table: str) -> str:
    """schema.table as skip_tables takes it and messages show it."""
    return f"{quote_part(schema)}.{quote_part(table)}"


def parse_table(text: str) -> tuple[str, str]:
    """(schema, table) of a skip_tables entry: two parts split at the dot between them, each as it is
    or double-quoted (with "" for a quote inside); ValueError when it is not that."""
    parts, rest = [], text.strip()
    while True:
        if rest.startswith('"'):
            match = re.match(r'"((?:[^"]|"")*)"', rest)
            if not match:
                raise ValueError(f"{text!r}: a double-quoted name is not closed")
            parts.append(match.group(1).replace('""', '"'))
            rest = rest[match.end():]
        else:
            end = rest.find(".") if len(parts) == 0 else len(rest)
            end = len(rest) if end < 0 else end
            parts.append(rest[:end])
            rest = rest[end:]
        if not rest:
            break
        if not rest.startswith(".") or len(parts) == 2:
            raise ValueError(f"{text!r}: write a table as schema.table")
        rest = rest[1:]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{text!r}: write a table as schema.table (for example public.audit_log)")
    return parts[0], parts[1]


def blocking_problems(database: str, tables: dict, skipped: set, identity_full: bool, large_objects: int) -> list[str]:
    """What stops logical replication of `database`: `tables` maps "no_key" and "unlogged" to
    [(schema, table)]; tables in `skipped` are left out; with `identity_full` the tables without a
    key get REPLICA IDENTITY FULL instead of blocking."""
    found = []
    no_key = [t for t in tables.get("no_key", []) if t not in skipped]
    unlogged = [t for t in tables.get("unlogged", []) if t not in skipped]
    if no_key and not identity_full:
        found.append(f"database {database!r}: {len(no_key)} tables have no primary key and no replica identity, "
                     f"so their updates and deletes cannot be replicated: {labels(no_key)}. Give them a primary "
                     "key, or set replica_identity_full: true (the module gives them REPLICA IDENTITY FULL on the "
                     "source: updates and deletes are matched on every column), or list them in skip_tables "
                     "(they are copied while writes are stopped at cutover)")
    if unlogged:
        found.append(f"database {database!r}: unlogged tables are not replicated: {labels(unlogged)}. List them in "
                     "skip_tables (they are copied while writes are stopped at cutover), or make them logged "
                     "(ALTER TABLE ... SET LOGGED)")
    if large_objects:
        found.append(f"database {database!r} holds {large_objects} large objects (pg_largeobject_metadata), which "
                     "logical replication does not carry: use method dump for this server, or move their "
                     "contents into bytea columns (and lo_unlink them) first")
    return found


def labels(tables) -> str:
    return ", ".join(table_label(schema, table) for schema, table in sorted(tables))


def unknown_skips(skipped: set, existing: set) -> list[str]:
    """The skip_tables entries that name no table of any migrated database."""
    return sorted(table_label(*t) for t in skipped - existing)
