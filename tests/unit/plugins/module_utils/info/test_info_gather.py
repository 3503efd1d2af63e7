"""Unit tests of the info module's `gather` option: names, `all`, `!name` exclusions, bad names."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.info.engine import GATHERERS
from ansible_collections.pgdock.postgres.plugins.module_utils.info.gather import SECTIONS, gathered_sections


def test_every_section_has_a_gatherer():
    assert set(GATHERERS) == set(SECTIONS)


@pytest.mark.parametrize("gather", [None, [], ["all"], ["all", "server"]])
def test_all_by_default(gather):
    assert gathered_sections(gather) == SECTIONS


def test_names_come_in_section_order():
    assert gathered_sections(["statements", "slots", "server"]) == ("server", "slots", "statements")


def test_all_but_one():
    assert gathered_sections(["all", "!statements"]) == tuple(s for s in SECTIONS if s != "statements")


def test_exclusions_alone_start_from_all():
    assert gathered_sections(["!container", "! roles"]) == tuple(s for s in SECTIONS if s not in ("container", "roles"))


def test_an_exclusion_wins_over_its_inclusion():
    assert gathered_sections(["slots", "roles", "!roles"]) == ("slots",)


def test_not_all_is_nothing():
    assert gathered_sections(["!all"]) == ()


@pytest.mark.parametrize("bad", [["slot"], ["all", "!nope"], ["server", "Slots"]])
def test_a_bad_name_lists_the_valid_ones(bad):
    with pytest.raises(PgdockError) as err:
        gathered_sections(bad)
    message = str(err.value)
    assert message.startswith("gather: ") and repr(bad[-1]) in message
    assert "valid: all, server, replication, slots" in message and "container" in message and "'!'" in message


def test_several_bad_names_in_one_message():
    with pytest.raises(PgdockError, match=r"'a', 'b' are not sections"):
        gathered_sections(["a", "server", "b"])
