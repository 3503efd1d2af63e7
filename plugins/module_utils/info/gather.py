# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info module's sections and its `gather` option (pure): names to include, `all`, and `!name`
to leave a section out, as community.postgresql's postgresql_info `filter` reads them."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

SECTIONS = ("server", "replication", "slots", "connections", "databases", "wraparound", "roles",
            "extensions", "tablespaces", "publications", "subscriptions", "tls", "settings",
            "statements", "container")


def gathered_sections(gather: list | None) -> tuple:
    """The sections `gather` asks for, in SECTIONS order. Entries are section names or `all`; an
    entry `!name` leaves that section out (only exclusions, or `!all` alone, start from all)."""
    wanted, left_out, bad = set(), set(), []
    for entry in gather or ["all"]:
        text = str(entry).strip()
        negated = text.startswith("!")
        name = text[1:].strip() if negated else text
        if name == "all":
            (left_out if negated else wanted).update(SECTIONS)
        elif name in SECTIONS:
            (left_out if negated else wanted).add(name)
        else:
            bad.append(entry)
    if bad:
        raise PgdockError(
            f"gather: {', '.join(repr(b) for b in bad)} {'is not a section' if len(bad) == 1 else 'are not sections'}; "
            f"valid: all, {', '.join(SECTIONS)} (each may be prefixed with '!' to leave it out)")
    if not wanted:
        wanted = set(SECTIONS)
    return tuple(s for s in SECTIONS if s in wanted and s not in left_out)
