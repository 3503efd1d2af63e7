# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server parameters without a server: a parameter's type and range as pg_settings describes it,
values checked and normalised against it (units such as 512MB or 5min), and memory-sized presets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

MIB = 1024 * 1024
MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": MIB, "GB": 1024 * MIB, "TB": 1024 * 1024 * MIB}
TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60000, "h": 3600000, "d": 86400000}
BOOL_WORDS = {"on": "on", "true": "on", "yes": "on", "1": "on",
              "off": "off", "false": "off", "no": "off", "0": "off"}
NAME_RE = re.compile(r"^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$")
NUMBER_RE = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")
PRESETS = ("production",)


@dataclass(frozen=True)
class ParamSpec:
    """What pg_settings says about one parameter (vartype bool, integer, real, enum or string)."""

    name: str
    vartype: str
    unit: str | None = None
    enumvals: tuple = ()
    min_val: float | None = None
    max_val: float | None = None
    context: str = "user"

    @classmethod
    def from_row(cls, row: dict) -> "ParamSpec":
        """From a pg_settings row (name, vartype, unit, enumvals, min_val, max_val, context)."""
        return cls(name=row["name"], vartype=row["vartype"], unit=row.get("unit"),
                   enumvals=tuple(row.get("enumvals") or ()), min_val=_bound(row.get("min_val")),
                   max_val=_bound(row.get("max_val")), context=row.get("context") or "user")


def _bound(value) -> float | None:
    return None if value is None else float(value)


def check_name(name) -> str:
    """A parameter name in PostgreSQL's lower-case form; PgdockError when it cannot be one."""
    lowered = str(name).strip().lower()
    if not NAME_RE.match(lowered):
        raise PgdockError(f"{name!r} is not a PostgreSQL parameter name")
    return lowered


def unit_scale(unit: str | None) -> tuple[str | None, float]:
    """('memory' | 'time' | None, size of one unit in bytes or ms), e.g. '8kB' -> ('memory', 8192)."""
    if not unit:
        return None, 1
    match = re.match(r"^(\d*)([A-Za-z]+)$", unit)
    count = int(match.group(1) or 1) if match else 1
    base = match.group(2) if match else unit
    if base in MEMORY_UNITS:
        return "memory", count * MEMORY_UNITS[base]
    if base in TIME_UNITS:
        return "time", count * TIME_UNITS[base]
    return None, 1


def normalise(spec: ParamSpec, value):
    """The value in the parameter's own terms, comparable with pg_settings.setting:
    'on'/'off' for bool, an int or float in the parameter's unit, the enum value, or the string.
    PgdockError says what is wrong with a bad value."""
    if spec.vartype == "bool":
        return _bool(spec, value)
    if spec.vartype == "enum":
        return _enum(spec, value)
    if spec.vartype in ("integer", "real"):
        return _number(spec, value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return "" if value is None else str(value)


def setting_text(spec: ParamSpec, value) -> str:
    """The text ALTER SYSTEM writes: normalised bool/enum, numbers as given (units kept)."""
    if spec.vartype in ("bool", "enum") or isinstance(value, bool):
        return str(normalise(spec, value))
    if isinstance(value, float) and value.is_integer() and spec.vartype == "integer":
        return str(int(value))
    return str(value).strip()


def same_value(spec: ParamSpec, left, right) -> bool:
    """Whether two values mean the same setting (reals compared with a relative tolerance)."""
    try:
        first, second = normalise(spec, left), normalise(spec, right)
    except PgdockError:
        return False
    if spec.vartype == "real":
        return abs(first - second) <= 1e-9 * max(1.0, abs(first), abs(second))
    return first == second


def _bool(spec: ParamSpec, value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    word = BOOL_WORDS.get(str(value).strip().lower())
    if word is None:
        raise PgdockError(f"{spec.name}: {value!r} is not a boolean (on/off, true/false, yes/no, 1/0)")
    return word


def _enum(spec: ParamSpec, value) -> str:
    text = ("on" if value else "off") if isinstance(value, bool) else str(value).strip()
    for allowed in spec.enumvals:
        if allowed.lower() == text.lower():
            return allowed
    raise PgdockError(f"{spec.name}: {value!r} is not one of {', '.join(spec.enumvals)}")


def _number(spec: ParamSpec, value):
    kind, scale = unit_scale(spec.unit)
    if isinstance(value, bool):
        raise PgdockError(f"{spec.name}: expects a number, not a boolean")
    match = NUMBER_RE.match(str(value))
    if not match:
        raise PgdockError(f"{spec.name}: {value!r} is not a number{_unit_hint(spec, kind)}")
    number, unit = float(match.group(1)), match.group(2)
    if unit:
        units = MEMORY_UNITS if kind == "memory" else TIME_UNITS if kind == "time" else {}
        if unit not in units:
            raise PgdockError(f"{spec.name}: unit {unit!r} is not allowed{_unit_hint(spec, kind)}")
        number = number * units[unit] / scale
    if spec.vartype == "integer":
        if not unit and not number.is_integer():
            raise PgdockError(f"{spec.name}: {value!r} is not an integer")
        number = int(round(number))
    if (spec.min_val is not None and number < spec.min_val) or (spec.max_val is not None and number > spec.max_val):
        raise PgdockError(f"{spec.name}: {value!r} is outside the allowed range "
                          f"{_fmt(spec.min_val)} .. {_fmt(spec.max_val)}{' ' + spec.unit if spec.unit else ''}")
    return number


def _unit_hint(spec: ParamSpec, kind: str | None) -> str:
    if kind == "memory":
        return f" (a size such as 512MB; a bare number counts in {spec.unit})"
    if kind == "time":
        return f" (a duration such as 5min or 500ms; a bare number counts in {spec.unit})"
    return " (this parameter takes no unit)"


def _fmt(bound: float | None) -> str:
    if bound is None:
        return "?"
    return str(int(bound)) if float(bound).is_integer() else str(bound)


# ---------------------------------------------------------------- presets

def preset_settings(preset: str, memory_bytes: int, max_connections: int = 100) -> dict:
    """Settings of a preset for a server that may use `memory_bytes` of memory."""
    if preset not in PRESETS:
        raise PgdockError(f"preset: {preset!r} is not one of {', '.join(PRESETS)}")
    if memory_bytes < 64 * MIB:
        raise PgdockError(f"preset: {memory_bytes} bytes of memory is too little to size a server (at least 64 MiB)")
    total = memory_bytes // MIB
    shared = total // 4
    per_query = (total - shared) // (3 * max(1, max_connections))
    return {
        # memory: a quarter for the buffer cache, the OS cache assumed to hold most of the rest
        "shared_buffers": f"{shared}MB",
        "effective_cache_size": f"{total * 3 // 4}MB",
        "maintenance_work_mem": f"{min(2048, max(64, total // 16))}MB",
        "work_mem": f"{max(4, per_query)}MB",
        # WAL and checkpoints: fewer, spread-out checkpoints
        "wal_compression": "on",
        "max_wal_size": "2GB" if total < 8192 else "8GB",
        "min_wal_size": "256MB",
        "checkpoint_timeout": "15min",
        "checkpoint_completion_target": "0.9",
        # logging: slow statements, checkpoints, lock waits, autovacuum runs, big temp files
        "log_min_duration_statement": "1s",
        "log_checkpoints": "on",
        "log_lock_waits": "on",
        "log_autovacuum_min_duration": "10s",
        "log_temp_files": "64MB",
        "password_encryption": "scram-sha-256",
    }
