"""conninfo strings read back by libpq itself (psycopg2.extensions.parse_dsn), and postgresql.conf literals."""

from __future__ import annotations

import psycopg2.extensions
import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import conf_string, conninfo, masked_conninfo

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


@pytest.mark.parametrize("text", [
    "host=h user=u password=secret dbname=d",
    "host = h password = 'sec ret\\'s' dbname=d",
    "postgresql://u:secret@h:5432/d?sslmode=require",
    "postgres://u@h/d?password=secret&application_name=x",
])
def test_masked_conninfo_hides_the_password_and_keeps_the_rest(text):
    masked = masked_conninfo(text)
    assert "secret" not in masked and "sec ret" not in masked
    parsed = psycopg2.extensions.parse_dsn(masked)
    assert parsed["password"] == "********" and parsed["host"] == "h" and parsed["dbname"] == "d"


def test_masked_conninfo_without_password_or_unparsable():
    assert masked_conninfo("host=h port=5433") == "host=h port=5433"
    assert masked_conninfo("host='open password=secret") is None
    assert masked_conninfo("") is None and masked_conninfo(None) is None
