"""pg.lsn: LSNs as text and numbers, WAL file positions, and the two timestamp formats."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import (
    WAL_SEGMENT_SIZE,
    int_to_lsn,
    iso,
    lsn_to_int,
    parse_lsn,
    parse_time,
    wal_file_name,
    wal_file_position,
    wal_file_timeline,
)


@pytest.mark.parametrize("text, value", [("0/0", 0), ("0/3000148", 0x3000148), ("16/B374D848", 97500059720),
                                         ("FFFFFFFF/FFFFFFFF", 2 ** 64 - 1)])
def test_lsn_text_and_number_round_trip(text, value):
    assert lsn_to_int(text) == value and int_to_lsn(value) == text.upper()


def test_a_missing_lsn_is_none_and_a_bad_one_an_error():
    assert lsn_to_int(None) is None
    with pytest.raises(ValueError):
        lsn_to_int("")


def test_a_users_lsn_error_names_the_option():
    assert parse_lsn(" 0/3000148 ") == 0x3000148
    with pytest.raises(PgdockError, match=r"^target_lsn: '0/xyz' is not a WAL position"):
        parse_lsn("0/xyz")
    with pytest.raises(PgdockError, match=r"^stop_at: 12 is not a WAL position"):
        parse_lsn(12, "stop_at")


def test_wal_file_positions():
    assert wal_file_position("000000010000000000000003") == 3
    assert wal_file_position("000000020000000100000002") == (1 << 32) // WAL_SEGMENT_SIZE + 2
    assert wal_file_position("000000010000000000000003.partial") == 3
    for other in ("00000002.history", "000000010000000000000003.00000028.backup"[:8], "archive_status"):
        assert wal_file_position(other) is None


def test_the_two_timestamp_formats():
    moment = datetime(2025, 1, 31, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert iso(moment) == "2025-01-31T12:00:00.123456+00:00"
    assert iso(moment, seconds=True) == "2025-01-31T12:00:00Z"


def test_user_timestamps_naive_means_utc():
    assert parse_time("2025-01-31 12:00:00") == datetime(2025, 1, 31, 12, tzinfo=timezone.utc)
    assert parse_time("2025-01-31T12:00:00Z") == datetime(2025, 1, 31, 12, tzinfo=timezone.utc)
    with pytest.raises(PgdockError, match="is not an ISO 8601 timestamp"):
        parse_time("yesterday")


@pytest.mark.parametrize("name, timeline, segment", [
    ("000000010000000000000001", 1, 1), ("0000000200000001000000FF", 2, 511), ("0000000A0000000000000100", 10, None)])
def test_wal_file_names_round_trip(name, timeline, segment):
    assert wal_file_timeline(name) == timeline
    if segment is None:  # 0x100 is no segment of the second field: names stop at FF with 16 MB segments
        assert wal_file_name(timeline, wal_file_position(name)) != name
        return
    assert wal_file_position(name) == segment and wal_file_name(timeline, segment) == name


def test_wal_file_timeline_of_history_and_other_files():
    assert wal_file_timeline("00000003.history") == 3
    assert wal_file_timeline("000000010000000000000002.partial") == 1
    assert wal_file_timeline("README") is None and wal_file_timeline("0000000G.history") is None
