# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control file of a stopped cluster: was it shut down cleanly, where is its last checkpoint,
on which timeline. Read from the container's file system (fast, during a switchover's pause), or
with pg_controldata in a helper container when the file's layout is not one this code knows."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import read_bytes
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import int_to_lsn, lsn_to_int

# pg_control_version of the layouts below (PostgreSQL 13-16: 1300, 17: 1700, 18: 1800). The first
# fields of ControlFileData have the same offsets in all of them.
KNOWN_VERSIONS = frozenset({1300, 1700, 1800})
HEADER = struct.Struct("<QIIi4xqQQII")  # sysid, version, catversion, state, time, checkPoint, redo, tli, prev tli
STATES = {0: "starting up", 1: "shut down", 2: "shut down in recovery", 3: "shutting down",
          4: "in crash recovery", 5: "in archive recovery", 6: "in production"}


@dataclass(frozen=True)
class ControlData:
    """What a switchover needs from pg_control."""

    state: str
    checkpoint_lsn: int
    timeline: int

    @property
    def checkpoint_text(self) -> str:
        """The checkpoint location as PostgreSQL prints an LSN (e.g. 0/3000028)."""
        return int_to_lsn(self.checkpoint_lsn)


def parse_control_file(data: bytes) -> ControlData | None:
    """The fields of a pg_control file; None when its version is not a known layout."""
    if len(data) < HEADER.size:
        return None
    _sysid, version, _cat, state, _time, checkpoint, _redo, timeline, _prev = HEADER.unpack_from(data)
    if version not in KNOWN_VERSIONS:
        return None
    return ControlData(STATES.get(state, f"unknown ({state})"), checkpoint, timeline)


def parse_controldata_output(text: str) -> ControlData:
    """The fields from pg_controldata's output."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    try:
        return ControlData(fields["Database cluster state"], lsn_to_int(fields["Latest checkpoint location"]),
                           int(fields["Latest checkpoint's TimeLineID"]))
    except (KeyError, ValueError) as exc:
        raise PgdockError(f"cannot read pg_controldata's output ({exc}): {text.strip()[-500:]}") from None


def read_control_file(container, pgdata: str) -> bytes | None:
    """global/pg_control from a (stopped) container's file system; None when it cannot be read
    (the caller then falls back to pg_controldata)."""
    try:
        return read_bytes(container, f"{pgdata}/global/pg_control")
    except PgdockError:
        return None
