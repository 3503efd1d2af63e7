"""conninfo strings read back by libpq itself (psycopg2.extensions.parse_dsn), and postgresql.conf literals."""

from __future__ import annotations

import psycopg2.extensions
import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import conf_string, conninfo

HOSTILE = ["rep 'q' $(id) `id` x", "back\\slash", "a=b", "", "ünï €", "tab\tand\nnewline"]


@pytest.mark.parametrize("user", HOSTILE + ["replicator"])
def test_libpq_reads_back_every_value(user):
    text = conninfo(host="pg-primary", port=5432, user=user, application_name="r 1", passfile="/run/x y")
    assert psycopg2.extensions.parse_dsn(text) == {
        "host": "pg-primary", "port": "5432", "user": user, "application_name": "r 1", "passfile": "/run/x y"}


def test_simple_values_stay_readable_and_none_is_left_out():
    assert conninfo(host="pg-primary", port=5432, user="replicator", sslmode=None) == \
        "host=pg-primary port=5432 user=replicator"


@pytest.mark.parametrize("value, literal", [
    ("plain", "'plain'"),
    ("it's", "'it''s'"),
    ("back\\slash", "'back\\\\slash'"),
    ("user='rep ''q'''", "'user=''rep ''''q'''''''"),
])
def test_conf_string_doubles_quotes_and_escapes_backslashes(value, literal):
    assert conf_string(value) == literal
