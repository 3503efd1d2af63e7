"""Unit tests of the pg_hba.conf rule model: parsing, rendering, quoting, defaults."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.rules import (
    HbaRule,
    default_rules,
    name_token,
    normalise_address,
    parse_hba,
    render_hba,
    rule_from_option,
    rules_text,
    tokenize,
    unquote,
)

# what the official image's entrypoint leaves: initdb's file plus a catch-all password rule
IMAGE_FILE = """# PostgreSQL Client Authentication Configuration File
# ===================================================
# TYPE  DATABASE        USER            ADDRESS                 METHOD

# "local" is for Unix domain socket connections only
local   all             all                                     trust
# IPv4 local connections:
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1 255.255.255.255 trust

host all all all scram-sha-256
"""


def rule(**kw) -> HbaRule:
    return rule_from_option(kw, "rules[0]")


def test_parse_the_image_file():
    rules, others = parse_hba(IMAGE_FILE)
    assert others == []
    assert [(r.type, r.database, r.user, r.address, r.method) for r in rules] == [
        ("local", ("all",), ("all",), None, "trust"),
        ("host", ("all",), ("all",), "127.0.0.1/32", "trust"),
        ("host", ("all",), ("all",), "::1/128", "trust"),
        ("local", ("replication",), ("all",), None, "trust"),
        ("host", ("replication",), ("all",), "127.0.0.1/32", "trust"),  # IP and mask become CIDR
        ("host", ("all",), ("all",), "all", "scram-sha-256"),
    ]


def test_render_then_parse_gives_the_same_rules():
    rules = [
        rule(type="local", method="peer", user=["postgres"]),
        rule(type="hostssl", database=["app", "my db"], user=['we"ird', "+admins"], address="10.1.2.3/8",
             method="cert", options={"clientcert": "verify-full", "map": "x y"}),
        rule(type="host", address="all", method="reject"),
    ]
    text = render_hba(rules)
    assert 'app,"my db"' in text and '"we""ird",+admins' in text and 'map="x y"' in text
    assert "10.0.0.0/8" in text
    assert parse_hba(text) == (rules, [])


def test_rules_compare_regardless_of_layout_comments_and_option_order():
    wanted = [rule(type="hostssl", address="172.18.0.0/16", method="cert",
                   options={"clientcert": "verify-full", "map": "m"})]
    text = "  hostssl\tall   all 172.18.0.0/16   cert map=m clientcert=verify-full  # comment\n"
    assert parse_hba(text)[0] == wanted


def test_continuation_lines_and_lines_that_are_not_rules():
    rules, others = parse_hba("host all all \\\n  10.0.0.0/8 md5\ninclude_dir conf.d\nhost all\n")
    assert rules == [rule(address="10.0.0.0/8", method="md5")]
    assert others == ["include_dir conf.d", "host all"]
    assert rules_text(rules, others).splitlines()[1:] == others


@pytest.mark.parametrize("given, token", [
    ("app", "app"), ("my db", '"my db"'), ('a"b', '"a""b"'), ('"all"', '"all"'), ('"plain"', "plain"),
    ("all", "all"), ("a,b", '"a,b"'),
])
def test_name_tokens(given, token):
    assert name_token(given) == token


def test_tokenize_and_unquote():
    assert tokenize('host "a b","c""d" all 10.0.0.0/8 md5 # x "y"') == [
        "host", '"a b","c""d"', "all", "10.0.0.0/8", "md5"]
    assert unquote('"c""d"') == 'c"d' and unquote('key="x y"') == "key=x y"


@pytest.mark.parametrize("given, canonical", [
    ("10.1.2.3/8", "10.0.0.0/8"), ("192.168.1.5", "192.168.1.5/32"), ("fd00::1", "fd00::1/128"),
    ("all", "all"), ("samenet", "samenet"), ("DB.Example.com", "db.example.com"), (".example.com", ".example.com"),
])
def test_addresses(given, canonical):
    assert normalise_address(given) == canonical


@pytest.mark.parametrize("entry, message", [
    ({"type": "local", "address": "10.0.0.0/8", "method": "peer"}, "takes no address"),
    ({"type": "host", "method": "md5"}, "needs an address"),
    ({"type": "host", "address": "10.0.0.0/33", "method": "md5"}, "is not a CIDR address"),
    ({"type": "host", "address": "all", "method": "scram sha"}, "is not an authentication method"),
    ({"type": "hostx", "address": "all", "method": "md5"}, "type 'hostx'"),
])
def test_bad_rules_are_refused_with_the_option_named(entry, message):
    with pytest.raises(PgdockError, match=message) as err:
        rule_from_option(entry, "rules[3]")
    assert str(err.value).startswith("rules[3]: ")


def test_default_rules_for_the_postgres_superuser():
    extra = [rule(type="hostssl", address="10.8.0.0/24", method="cert")]
    rules = default_rules("postgres", ["172.20.0.0/16", "fd00:1::/64"], "replicator", extra=extra)
    assert rules_text(rules).split("\n")[:-1] == [r.render() for r in rules]
    assert [(r.type, r.database[0], r.user[0], r.address, r.method) for r in rules] == [
        ("local", "all", "postgres", None, "peer"),
        ("local", "all", "all", None, "scram-sha-256"),
        ("host", "all", "all", "127.0.0.1/32", "scram-sha-256"),
        ("host", "all", "all", "::1/128", "scram-sha-256"),
        ("hostssl", "all", "all", "172.20.0.0/16", "scram-sha-256"),
        ("hostssl", "all", "all", "fd00:1::/64", "scram-sha-256"),
        ("hostssl", "replication", "replicator", "172.20.0.0/16", "scram-sha-256"),
        ("hostssl", "replication", "replicator", "fd00:1::/64", "scram-sha-256"),
        ("hostssl", "all", "all", "10.8.0.0/24", "cert"),
        ("hostnossl", "all", "all", "all", "reject"),
        ("host", "all", "all", "all", "reject"),
    ]
    assert {r.user for r in rules if r.database == ("replication",)} == {("replicator", "postgres")}


def test_default_rules_for_another_superuser_without_tls_and_extra_rules_first():
    extra = [rule(type="host", database=["secret"], address="all", method="reject")]
    rules = default_rules("admin", ["172.20.0.0/16"], require_ssl=False, extra=extra, extra_position="first")
    assert rules[0] == extra[0]
    assert all(r.method != "peer" for r in rules)
    assert ("host", "172.20.0.0/16") in [(r.type, r.address) for r in rules]
    assert not [r for r in rules if r.type == "hostssl"]


def test_default_rules_need_a_subnet():
    with pytest.raises(PgdockError, match="no Docker network"):
        default_rules("postgres", [])
