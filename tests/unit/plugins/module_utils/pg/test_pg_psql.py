"""pg.psql: the query reaches psql on its standard input and every value as its own argument, so no
value passes through a shell; psql's unaligned output read back."""

from __future__ import annotations

import os
import subprocess

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.psql import (
    FIELD_SEPARATOR,
    RECORD_SEPARATOR,
    parse_output,
    psql_argv,
)

HOSTILE = "it's \"$(touch /tmp/pwned)\" `id` ; \\ $HOME\nnext line"


def run_with_fake_psql(tmp_path, argv):
    """Run the argv with a `psql` that prints its arguments (one per line) and then its stdin."""
    fake = tmp_path / "bin" / "psql"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "arg:%s\\n" "$a"; done; printf "stdin:"; cat\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake.parent}:{os.environ['PATH']}")
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout


def test_query_and_values_are_never_interpolated(tmp_path):
    out = run_with_fake_psql(tmp_path, psql_argv("SELECT :'value'", HOSTILE, "db $1", {"value": HOSTILE}))
    assert f"arg:-U\narg:{HOSTILE}\narg:-d\narg:db $1\n" in out
    assert f"arg:-v\narg:value={HOSTILE}\n" in out
    assert out.endswith("stdin:SELECT :'value'\n")
    assert f"arg:{FIELD_SEPARATOR}" in out and f"arg:{RECORD_SEPARATOR}" in out
    assert not os.path.exists("/tmp/pwned")


def test_unaligned_output_as_rows_of_text():
    out = f"a{FIELD_SEPARATOR}1{RECORD_SEPARATOR}b\nwith newline{FIELD_SEPARATOR}\n"  # as psql writes it
    assert parse_output(out) == [["a", "1"], ["b\nwith newline", ""]]
    assert parse_output("") == []             # no rows
    assert parse_output("\n") == [[""]]       # one row, one empty value
