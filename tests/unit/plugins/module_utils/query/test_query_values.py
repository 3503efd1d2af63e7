"""query.values: what psycopg2 returns made JSON-safe without loss of meaning."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid

from psycopg2.extras import DateRange, NumericRange

from ansible_collections.pgdock.postgres.plugins.module_utils.query.values import json_safe, rows_as_dicts


def test_numerics():
    assert json_safe(decimal.Decimal("6")) == 6 and isinstance(json_safe(decimal.Decimal("6.000")), int)
    assert json_safe(decimal.Decimal("12.5")) == 12.5
    assert json_safe(decimal.Decimal("0.1")) == 0.1
    assert json_safe(decimal.Decimal("1.00000000000000000001")) == "1.00000000000000000001"
    assert json_safe(decimal.Decimal("NaN")) == "NaN" and json_safe(decimal.Decimal("-Infinity")) == "-Infinity"
    assert json_safe(float("inf")) == "Infinity" and json_safe(float("nan")) == "NaN" and json_safe(1.5) == 1.5
    assert json_safe(True) is True and json_safe(None) is None


def test_times_bytes_and_others():
    tz = datetime.timezone(datetime.timedelta(hours=2))
    assert json_safe(datetime.datetime(2024, 5, 1, 10, 0, tzinfo=tz)) == "2024-05-01T10:00:00+02:00"
    assert json_safe(datetime.date(2024, 5, 1)) == "2024-05-01"
    assert json_safe(datetime.time(7, 30)) == "07:30:00"
    assert json_safe(datetime.timedelta(days=1, hours=2)) == "1 day, 2:00:00"
    assert json_safe(memoryview(b"\x00\xff")) == "\\x00ff" and json_safe(b"ab") == "\\x6162"
    assert json_safe(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"


def test_ranges_arrays_and_json():
    assert json_safe(NumericRange(1, 5)) == dict(lower=1, upper=5, bounds="[)", empty=False)
    assert json_safe(DateRange(datetime.date(2024, 1, 1), datetime.date(2024, 2, 1), "(]")) == dict(
        lower="2024-01-01", upper="2024-02-01", bounds="(]", empty=False)
    assert json_safe(DateRange(datetime.date(2024, 1, 1), None))["upper"] is None
    assert json_safe(NumericRange(empty=True)) == dict(lower=None, upper=None, bounds=None, empty=True)
    assert json_safe([decimal.Decimal("1.5"), [b"a"]]) == [1.5, ["\\x61"]]
    assert json_safe({"a": {"b": decimal.Decimal("2")}, 1: "x"}) == {"a": {"b": 2}, "1": "x"}


def test_rows_as_dicts_are_json():
    rows = rows_as_dicts(["n", "at"], [(decimal.Decimal("1"), datetime.date(2024, 1, 2))])
    assert rows == [{"n": 1, "at": "2024-01-02"}]
    json.dumps(rows, allow_nan=False)
    assert rows_as_dicts(None, []) == []
