# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values psycopg2 returns made JSON-safe for a module result (pure): numerics as integers or
floats when that loses nothing (else their text), times in ISO 8601, intervals as text, bytea as
\\x hex, ranges as dicts, arrays and json as lists and dicts, anything else as its text."""

from __future__ import annotations

import datetime
import decimal
import math


def json_safe(value):
    """`value` as something JSON can hold without loss of meaning."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _special_float(value)
    if isinstance(value, decimal.Decimal):
        return _numeric(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if _is_range(value):
        bounds = None if value.isempty else ("[" if value.lower_inc else "(") + ("]" if value.upper_inc else ")")
        return dict(lower=json_safe(value.lower), upper=json_safe(value.upper), bounds=bounds, empty=value.isempty)
    return str(value)  # interval (timedelta), uuid, inet, money...


def rows_as_dicts(names: list | None, rows: list) -> list:
    """Rows as dicts by column name, their values JSON-safe; [] for a statement without rows."""
    if names is None:
        return []
    return [dict(zip(names, (json_safe(value) for value in row))) for row in rows]


def _special_float(value: float) -> str:
    """NaN and the infinities as PostgreSQL writes them."""
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _numeric(value: decimal.Decimal):
    """An integral numeric as int, another as float when the float reads back as the same number,
    else its text (NaN, Infinity, more digits than a float keeps)."""
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if decimal.Decimal(repr(as_float)) == value else str(value)


def _is_range(value) -> bool:
    """Whether `value` is a psycopg2.extras.Range (duck-typed: the module may run without extras)."""
    return all(hasattr(value, name) for name in ("lower", "upper", "isempty", "lower_inc", "upper_inc"))
