"""migrate.preflight: what a method needs of the source, and the replication rule for the containers."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.preflight import (
    major_of,
    problems,
    replication_rule_problem,
)

FACTS = dict(major=15, version_num=150007, wal_level="replica", max_wal_senders=10, max_replication_slots=10,
             in_recovery=False, superuser=True, replication=True, databases=["app", "postgres"], user="postgres")


def facts(**changes):
    return dict(FACTS, **changes)


def test_major_of():
    assert major_of(150007) == 15 and major_of(180001) == 18


@pytest.mark.parametrize("method, changes, target, expected", [
    ("physical", {}, 17, "must run the source's major version"),
    ("physical", {"wal_level": "minimal"}, 15, "wal_level = replica"),
    ("logical", {}, 18, "wal_level = logical"),
    ("dump", {}, 14, "older than the source"),
    ("logical", {"wal_level": "logical", "max_wal_senders": 0}, 18, "max_wal_senders"),
    ("physical", {"max_replication_slots": 0}, 15, "max_replication_slots"),
    ("physical", {"superuser": False, "replication": False}, 15, "neither SUPERUSER nor REPLICATION"),
    ("dump", {"superuser": False}, 18, "must be a superuser"),
    ("dump", {"in_recovery": True}, 18, "is a standby"),
    ("dump", {"fence_overrides": ['role "app"', "every role in database shop"]}, 18,
     'default_transaction_read_only is set for role "app", every role in database shop'),
])
def test_each_problem_names_its_fix(method, changes, target, expected):
    found = problems(method, facts(**changes), target)
    assert any(expected in text for text in found), found


def test_a_fit_source_has_no_problem():
    assert problems("physical", facts(), 15) == []
    assert problems("dump", facts(), 18) == []
    assert problems("logical", facts(wal_level="logical"), 18) == []


def test_missing_databases_are_named():
    found = problems("dump", facts(), 18, ["app", "nope"])
    assert any("['nope'] do not exist" in text for text in found)


HBA = """local all all trust
host all all 127.0.0.1/32 scram-sha-256
"""


def test_replication_rule_missing_gives_the_line_to_add():
    text = replication_rule_problem(HBA, "pgdock_migrate", "host", "172.20.0.0/16")
    assert "host    replication   pgdock_migrate   172.20.0.0/16   scram-sha-256" in text
    text = replication_rule_problem(HBA, "pgdock_migrate", "local", None)
    assert "local   replication   pgdock_migrate   scram-sha-256" in text


def test_replication_rules_that_let_the_containers_in():
    hba = HBA + "host replication pgdock_migrate 172.16.0.0/12 scram-sha-256\nlocal replication all md5\n"
    assert replication_rule_problem(hba, "pgdock_migrate", "host", "172.20.0.0/16") is None
    assert replication_rule_problem(hba, "pgdock_migrate", "local", None) is None


def test_a_reject_or_peer_rule_first_is_a_problem():
    hba = "host replication all 0.0.0.0/0 reject\nhost replication all 0.0.0.0/0 md5\nlocal replication all peer\n"
    assert "says reject" in replication_rule_problem(hba, "u", "host", "10.0.0.0/24")
    assert "says peer" in replication_rule_problem(hba, "u", "local", None)
    assert replication_rule_problem(None, "u", "host", "10.0.0.0/24") is None  # not readable: not judged
