# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure text for libpq and postgresql.conf: a conninfo string (``key='value' ...``) whose values
keep spaces, quotes and backslashes, a postgresql.conf string literal, and a conninfo read back with
its password masked. Names that an operator chooses (a replication user, a container) pass through
these, never through string formatting."""

from __future__ import annotations

try:
    from psycopg2 import ProgrammingError
    from psycopg2.extensions import parse_dsn
except ImportError:  # pragma: no cover - pg.connection.connect reports the missing library
    ProgrammingError, parse_dsn = Exception, None

PASSWORD_MASK = "********"


def conninfo_value(value) -> str:
    """One conninfo value as libpq reads it: as it is when it has no space, quote or backslash,
    else single-quoted with ``\\`` and ``'`` escaped."""
    text = str(value)
    if text and not any(c.isspace() or c in "'\\" for c in text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conninfo(**params) -> str:
    """``key='value'`` pairs in the given order; None values are left out."""
    return " ".join(f"{key}={conninfo_value(value)}" for key, value in params.items() if value is not None)


def conf_string(value) -> str:
    """A postgresql.conf string literal: single quotes doubled and backslashes escaped (the
    configuration file's parser reads backslash escapes inside quoted values)."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def masked_conninfo(text: str | None) -> str | None:
    """A conninfo (key=value or URI form) as libpq parses it, rebuilt with its password masked;
    None when libpq cannot parse it (nothing of it is shown then)."""
    if not text or parse_dsn is None:
        return None
    try:
        params = parse_dsn(text)
    except ProgrammingError:  # libpq's own parser refused it
        return None
    return conninfo(**{key: PASSWORD_MASK if key == "password" else value for key, value in params.items()})
