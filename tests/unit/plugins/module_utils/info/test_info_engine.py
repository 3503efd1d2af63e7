"""Unit tests of the info engine's run: the sections asked for, their warnings as the task's
warnings, and the note of a container section without a container."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.info import engine
from ansible_collections.pgdock.postgres.plugins.module_utils.info.container import NO_CONTAINER_NOTE


class FakeModule:
    def __init__(self, **params):
        self.params = {"gather": ["all"], "top_queries": 10, **params}
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class FakeSession:
    dbname, version, container = "postgres", 180001, None

    def __init__(self, params):
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True


@pytest.fixture
def fake_session(monkeypatch):
    monkeypatch.setattr(engine, "Session", FakeSession)


def test_warnings_of_slots_and_wraparound_become_the_tasks_and_the_note_is_kept(fake_session, monkeypatch):
    monkeypatch.setitem(engine.GATHERERS, "slots", lambda g: {"warnings": ["slot w"]})
    monkeypatch.setitem(engine.GATHERERS, "wraparound", lambda g: {"warnings": ["wrap w"]})
    monkeypatch.setitem(engine.GATHERERS, "databases", lambda g: {"warnings": {"size_bytes": 1}})  # a database named so
    module = FakeModule(gather=["slots", "wraparound", "databases", "container"])
    result = engine.gather_info(module)
    assert result["changed"] is False and list(result["info"]) == ["slots", "databases", "wraparound", "container"]
    assert module.warnings == ["slot w", "wrap w"]
    assert result["info"]["container"] == {} and result["notes"] == [NO_CONTAINER_NOTE]


def test_a_bad_gather_fails_before_connecting(monkeypatch):
    monkeypatch.setattr(engine, "Session", lambda params: pytest.fail("connected"))
    with pytest.raises(PgdockError, match="gather: 'nope' is not a section"):
        engine.gather_info(FakeModule(gather=["nope"]))
