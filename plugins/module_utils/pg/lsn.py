# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WAL positions and times as PostgreSQL and the modules write them: an LSN as text ('16/B374D848')
and as a number, the position and timeline of a WAL file from its name (and the name back), the
current UTC time, ISO 8601 timestamps (to the microsecond, or to the second with a Z), and a user's
timestamp read back."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

LSN_RE = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
WAL_SEGMENT_SIZE = 16 * 1024 * 1024  # the default; initdb --wal-segsize can change it


def lsn_to_int(lsn: str | None) -> int | None:
    """'16/B374D848' -> 97500059720 (None for None, a label without it); ValueError when it is not an LSN."""
    if lsn is None:
        return None
    match = LSN_RE.fullmatch(lsn.strip())
    if not match:
        raise ValueError(f"{lsn!r} is not an LSN")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def int_to_lsn(value: int) -> str:
    """97500059720 -> '16/B374D848'."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def parse_lsn(value, option: str = "target_lsn") -> int:
    """A WAL position given by the user -> int; PgdockError naming the option for bad input."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not LSN_RE.fullmatch(text):
        raise PgdockError(f"{option}: {value!r} is not a WAL position; give two hexadecimal numbers of at most "
                          "8 digits separated by a slash, as pg_current_wal_lsn() returns them (e.g. 0/3000148)")
    return lsn_to_int(text)


def wal_file_position(name: str, segment_size: int = WAL_SEGMENT_SIZE) -> int | None:
    """Segment number of a WAL file name (timeline ignored), None for other files (.history...)."""
    base = name.split(".", 1)[0]
    if len(base) != 24 or any(c not in "0123456789ABCDEF" for c in base):
        return None
    return (int(base[8:16], 16) << 32) // segment_size + int(base[16:24], 16)


def wal_file_name(timeline: int, segment: int, segment_size: int = WAL_SEGMENT_SIZE) -> str:
    """The WAL file name of segment number `segment` on `timeline` (wal_file_position's inverse)."""
    per_id = 0x100000000 // segment_size
    return f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


def wal_file_timeline(name: str) -> int | None:
    """Timeline of a WAL file or .history file name; None for other files."""
    base = name.split(".", 1)[0]
    if len(base) not in (8, 24) or any(c not in "0123456789ABCDEF" for c in base):
        return None
    return int(base[:8], 16)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def iso(moment: datetime, seconds: bool = False) -> str:
    """An aware datetime in UTC as ISO 8601: '2025-01-31T12:00:00.123456+00:00', or with `seconds`
    '2025-01-31T12:00:00Z' (how certificates' validity is reported)."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if seconds else moment.isoformat()


def parse_time(value: str) -> datetime:
    """ISO 8601 (naive means UTC) -> aware datetime; PgdockError names bad input."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise PgdockError(f"{value!r} is not an ISO 8601 timestamp (e.g. 2025-01-31T12:00:00+00:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
