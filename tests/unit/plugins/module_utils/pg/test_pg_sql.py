"""pg.sql: server errors as messages without statement text or secrets."""

from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import MASK, error_text, mask


class FakeError(Exception):
    """What psycopg2 raises: str() holds the statement; diag the server's parts."""

    def __init__(self, text, primary=None, detail=None, hint=None):
        super().__init__(text)
        self.diag = SimpleNamespace(message_primary=primary, message_detail=detail, message_hint=hint)


def test_the_servers_parts_without_the_statement():
    exc = FakeError("ERROR: bad\nLINE 1: ALTER ROLE x PASSWORD 'SCRAM-SHA-256$...'", primary="role \"x\" does not exist",
                    detail="line one\nline two", hint="Create it first.")
    assert error_text(exc) == 'role "x" does not exist line one; line two Create it first.'


def test_a_client_side_failure_gives_its_first_line():
    exc = FakeError("server closed the connection unexpectedly\n\tThis probably means the server terminated")
    assert error_text(exc) == "server closed the connection unexpectedly"
    assert error_text(FakeError("")) == "FakeError"


def test_secrets_are_masked():
    assert error_text(FakeError("x", primary="password s3cret is bad"), ["s3cret", ""]) == f"password {MASK} is bad"
    assert mask("a b a", ["a"]) == f"{MASK} b {MASK}" and mask("a", [None, ""]) == "a"
