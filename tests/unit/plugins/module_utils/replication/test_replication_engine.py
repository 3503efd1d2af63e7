"""Unit tests of the replica engine's pure helpers."""

from __future__ import annotations

from itertools import islice

from ansible_collections.pgdock.postgres.plugins.module_utils.container.spec import settings_from_command
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import poll_intervals
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import pgpass_line
from ansible_collections.pgdock.postgres.plugins.module_utils.replication.engine import (
    slot_name_for,
    standby_conf_lines,
    synchronous_names_value,
)


def test_slot_name_from_container_name():
    assert slot_name_for("pg-Replica.1") == "pg_replica_1"
    assert len(slot_name_for("r" * 100)) == 63


def test_standby_conf_reads_the_password_from_a_passfile():
    lines = standby_conf_lines("pg-primary", "replicator", "pg-replica1", "pg_replica1")
    assert "passfile=/run/secrets/pgdock/replication.pgpass" in lines
    assert "password=" not in lines
    assert "application_name=pg-replica1" in lines
    assert lines.endswith("primary_slot_name = 'pg_replica1'\n")
    assert "primary_slot_name" not in standby_conf_lines("p", "u", "r", None)


def test_synchronous_names():
    assert synchronous_names_value([]) == ""
    assert synchronous_names_value(["b", "a"]) == 'ANY 1 ("a", "b")'
    assert synchronous_names_value(['we"ird']) == 'ANY 1 ("we""ird")'


def test_settings_from_command():
    assert settings_from_command(["postgres", "-c", "a=1", "-c", "b=x=y"]) == {"a": "1", "b": "x=y"}
    assert settings_from_command(["postgres"]) == {}


def test_pgpass_line_escapes():
    assert pgpass_line("rep", "p:w\\d") == "*:*:*:rep:p\\:w\\\\d\n"


def test_poll_intervals_start_short_and_grow_to_the_cap():
    first = list(islice(poll_intervals(), 12))
    assert first[0] == 0.1
    assert first == sorted(first) and max(first) == first[-1] == 0.5
    assert list(islice(poll_intervals(0.2, 0.2), 2)) == [0.2, 0.2]
