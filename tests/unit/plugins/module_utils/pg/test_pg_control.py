"""Unit tests of the pg_control reader: LSN text, the control file's header fields on synthetic bytes, and
pg_controldata's output (as PostgreSQL 17 and 18 print it) and garbage."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.control import (
    ControlData,
    HEADER,
    KNOWN_VERSIONS,
    parse_control_file,
    parse_controldata_output,
    STATES,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import int_to_lsn, lsn_to_int

# `pg_controldata` of a cleanly stopped PostgreSQL 17 and 18 (pgdock-test/postgres images).
CONTROLDATA_17 = """\
pg_control version number:            1700
Catalog version number:               202406281
Database system identifier:           7711479701611053092
Database cluster state:               shut down
pg_control last modified:             Mon 23 Nov 2026 09:19:49 PM UTC
Latest checkpoint location:           0/15017E0
Latest checkpoint's REDO location:    0/15017E0
Latest checkpoint's REDO WAL file:    000000010000000000000001
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
Latest checkpoint's full_page_writes: on
Latest checkpoint's NextXID:          0:739
Latest checkpoint's NextOID:          13647
Latest checkpoint's NextMultiXactId:  1
Latest checkpoint's NextMultiOffset:  0
Latest checkpoint's oldestXID:        731
Latest checkpoint's oldestXID's DB:   1
Latest checkpoint's oldestActiveXID:  0
Latest checkpoint's oldestMultiXid:   1
Latest checkpoint's oldestMulti's DB: 1
Latest checkpoint's oldestCommitTsXid:0
Latest checkpoint's newestCommitTsXid:0
Time of latest checkpoint:            Mon 23 Nov 2026 09:19:49 PM UTC
Fake LSN counter for unlogged rels:   0/3E8
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Backup start location:                0/0
Backup end location:                  0/0
End-of-backup record required:        no
wal_level setting:                    replica
wal_log_hints setting:                off
max_connections setting:              100
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           64
track_commit_timestamp setting:       off
Maximum data alignment:               8
Database block size:                  8192
Blocks per segment of large relation: 131072
WAL block size:                       8192
Bytes per WAL segment:                16777216
Maximum length of identifiers:        64
Maximum columns in an index:          32
Maximum size of a TOAST chunk:        1996
Size of a large-object chunk:         2048
Date/time type storage:               64-bit integers
Float8 argument passing:              by value
Data page checksum version:           0
Mock authentication nonce:            a800488c3d8f80a11ac6d5a8572e78372f5179fa3eea2bd18fab7f5684e18c9b
"""

CONTROLDATA_18 = """\
pg_control version number:            1800
Catalog version number:               202506291
Database system identifier:           7711480005306257443
Database cluster state:               shut down
pg_control last modified:             Mon 23 Nov 2026 09:21:01 PM UTC
Latest checkpoint location:           0/2020C40
Latest checkpoint's REDO location:    0/2020C40
Latest checkpoint's REDO WAL file:    000000010000000000000002
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
Latest checkpoint's full_page_writes: on
Latest checkpoint's NextXID:          0:754
Latest checkpoint's NextOID:          16387
Latest checkpoint's NextMultiXactId:  1
Latest checkpoint's NextMultiOffset:  0
Latest checkpoint's oldestXID:        745
Latest checkpoint's oldestXID's DB:   1
Latest checkpoint's oldestActiveXID:  0
Latest checkpoint's oldestMultiXid:   1
Latest checkpoint's oldestMulti's DB: 1
Latest checkpoint's oldestCommitTsXid:0
Latest checkpoint's newestCommitTsXid:0
Time of latest checkpoint:            Mon 23 Nov 2026 09:21:01 PM UTC
Fake LSN counter for unlogged rels:   0/3E8
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Backup start location:                0/0
Backup end location:                  0/0
End-of-backup record required:        no
wal_level setting:                    replica
wal_log_hints setting:                off
max_connections setting:              100
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           64
track_commit_timestamp setting:       off
Maximum data alignment:               8
Database block size:                  8192
Blocks per segment of large relation: 131072
WAL block size:                       8192
Bytes per WAL segment:                16777216
Maximum length of identifiers:        64
Maximum columns in an index:          32
Maximum size of a TOAST chunk:        1996
Size of a large-object chunk:         2048
Date/time type storage:               64-bit integers
Float8 argument passing:              by value
Data page checksum version:           1
Default char data signedness:         signed
Mock authentication nonce:            9c73b60960f0374558b206ce51da3d8187e89ce582b1815d15ace7a6e3501569
"""

PG_CONTROL_SIZE = 8192  # PG_CONTROL_FILE_SIZE: the file is zero-padded to this size


def control_bytes(version=1700, state=1, checkpoint=0x15017E0, timeline=1, redo=None, prev_timeline=None,
                  size=PG_CONTROL_SIZE) -> bytes:
    """A pg_control image: HEADER's fields, then zeros (the CRC and the rest are not read)."""
    header = HEADER.pack(7711479701611053092, version, 202406281, state, 1795468789, checkpoint,
                         checkpoint if redo is None else redo, timeline,
                         timeline if prev_timeline is None else prev_timeline)
    return (header + bytes(max(size - len(header), 0)))[:size]


# int_to_lsn / lsn_to_int ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (0, "0/0"),
    (0x15017E0, "0/15017E0"),
    (0x1_0000_0000, "1/0"),
    (0x2_0020_0C40, "2/200C40"),
    (0xFFFFFFFF, "0/FFFFFFFF"),
    (0xFFFFFFFF_FFFFFFFF, "FFFFFFFF/FFFFFFFF"),
    (0xABC_0000_0001, "ABC/1"),
])
def test_lsn_text_and_value(value, text):
    assert int_to_lsn(value) == text
    assert lsn_to_int(text) == value
    assert lsn_to_int(text.lower()) == value
    assert lsn_to_int(f"  {text}\n") == value


@pytest.mark.parametrize("value", [0, 1, 0x3000028, 0x16_B374_D848, 2**32 - 1, 2**32, 2**64 - 1, 123456789012345])
def test_lsn_round_trip(value):
    assert lsn_to_int(int_to_lsn(value)) == value


def test_lsn_value_keeps_leading_zeros_meaningless():
    assert lsn_to_int("00000001/00000028") == lsn_to_int("1/28") == 0x1_0000_0028


@pytest.mark.parametrize("text", [
    "", "/", "0", "0/", "/0", "0/0/0", "G/0", "0/X1", "0x1/0", "-1/0", "1 /0", "0/123456789", "123456789/0",
    "0:0", "0/0 extra", "0/1\n0/2",
])
def test_lsn_value_bad_input(text):
    with pytest.raises(ValueError):
        lsn_to_int(text)


# parse_control_file --------------------------------------------------------------------------------

def test_header_layout_is_what_postgres_writes():
    # system_identifier, version, catalog, state, (padding), time, checkPoint, redo, ThisTimeLineID,
    # PrevTimeLineID: checkPoint at offset 32 and ThisTimeLineID at 48 of ControlFileData
    assert HEADER.size == 56
    data = control_bytes(checkpoint=0x0102030405060708, timeline=0x0A0B0C0D)
    assert data[32:40] == bytes.fromhex("0807060504030201")
    assert data[48:52] == bytes.fromhex("0D0C0B0A")


@pytest.mark.parametrize("version", sorted(KNOWN_VERSIONS))
def test_parse_control_file_known_versions(version):
    parsed = parse_control_file(control_bytes(version=version, state=1, checkpoint=0x2020C40, timeline=3,
                                              redo=0x2020B00, prev_timeline=2))
    assert parsed == ControlData("shut down", 0x2020C40, 3)
    assert parsed.checkpoint_text == "0/2020C40"


@pytest.mark.parametrize("state, text", sorted(STATES.items()))
def test_parse_control_file_states(state, text):
    assert parse_control_file(control_bytes(state=state)).state == text


def test_parse_control_file_states_match_pg_controldata_wording():
    assert STATES == {0: "starting up", 1: "shut down", 2: "shut down in recovery", 3: "shutting down",
                      4: "in crash recovery", 5: "in archive recovery", 6: "in production"}


@pytest.mark.parametrize("state", [7, 99, -1])
def test_parse_control_file_unknown_state(state):
    assert parse_control_file(control_bytes(state=state)).state == f"unknown ({state})"


def test_parse_control_file_high_lsn_and_timeline():
    parsed = parse_control_file(control_bytes(version=1800, state=6, checkpoint=0xFFFFFFFF_00000028,
                                              timeline=0xFFFFFFFF))
    assert parsed == ControlData("in production", 0xFFFFFFFF_00000028, 0xFFFFFFFF)
    assert parsed.checkpoint_text == "FFFFFFFF/28"


@pytest.mark.parametrize("version", [0, 942, 1002, 1100, 1201, 1299, 1301, 1600, 1701, 1900, 0xFFFFFFFF])
def test_parse_control_file_unknown_version(version):
    assert parse_control_file(control_bytes(version=version)) is None


@pytest.mark.parametrize("size", [0, 1, 16, HEADER.size - 1])
def test_parse_control_file_short_data(size):
    assert parse_control_file(control_bytes(size=size)) is None


def test_parse_control_file_header_only():
    assert parse_control_file(control_bytes(size=HEADER.size)) == ControlData("shut down", 0x15017E0, 1)


def test_parse_control_file_empty():
    assert parse_control_file(b"") is None


# parse_controldata_output --------------------------------------------------------------------------

def test_parse_controldata_output_17():
    parsed = parse_controldata_output(CONTROLDATA_17)
    assert parsed == ControlData("shut down", 0x15017E0, 1)
    assert parsed.checkpoint_text == "0/15017E0"


def test_parse_controldata_output_18():
    parsed = parse_controldata_output(CONTROLDATA_18)
    assert parsed == ControlData("shut down", 0x2020C40, 1)
    assert parsed.checkpoint_text == "0/2020C40"


def test_parse_controldata_output_standby_on_new_timeline():
    text = (CONTROLDATA_18.replace("Database cluster state:               shut down",
                                   "Database cluster state:               shut down in recovery")
            .replace("Latest checkpoint location:           0/2020C40",
                     "Latest checkpoint location:           1A/2F000060")
            .replace("Latest checkpoint's TimeLineID:       1", "Latest checkpoint's TimeLineID:       12"))
    assert parse_controldata_output(text) == ControlData("shut down in recovery", 0x1A_2F00_0060, 12)


def test_parse_controldata_output_agrees_with_control_file():
    # the same cluster described both ways gives the same ControlData
    assert parse_controldata_output(CONTROLDATA_17) == parse_control_file(control_bytes(
        version=1700, state=1, checkpoint=0x15017E0, timeline=1))


def test_parse_controldata_output_crlf_and_spacing():
    text = "Database cluster state:shut down\r\nLatest checkpoint location:\t0/3000028\r\n" \
           "Latest checkpoint's TimeLineID:   2   \r\n"
    assert parse_controldata_output(text) == ControlData("shut down", 0x3000028, 2)


@pytest.mark.parametrize("text", [
    "",
    "garbage",
    "pg_controldata: fatal: could not open file \"/var/lib/postgresql/data/global/pg_control\" for reading: "
    "No such file or directory",
    "\x00\x01\x02 binary: junk\n",
    "\n".join(line for line in CONTROLDATA_17.splitlines() if not line.startswith("Latest checkpoint location")),
    "\n".join(line for line in CONTROLDATA_17.splitlines() if not line.startswith("Database cluster state")),
    "\n".join(line for line in CONTROLDATA_17.splitlines() if not line.startswith("Latest checkpoint's TimeLineID")),
    CONTROLDATA_17.replace("0/15017E0", "not-an-lsn"),
    CONTROLDATA_17.replace("Latest checkpoint's TimeLineID:       1", "Latest checkpoint's TimeLineID:       one"),
])
def test_parse_controldata_output_garbage(text):
    with pytest.raises(PgdockError, match="pg_controldata"):
        parse_controldata_output(text)


def test_parse_controldata_output_error_quotes_tail():
    text = "x" * 2000 + "\nthe end: of it"
    with pytest.raises(PgdockError) as err:
        parse_controldata_output(text)
    message = str(err.value)
    assert message.endswith("the end: of it")
    assert len(message) < 700
