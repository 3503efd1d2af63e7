"""The extraction script of restore.volume: it never writes over a cluster unless asked, and a copy
without the archive mount does not archive."""

from __future__ import annotations

import subprocess

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import ImageLayout
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.volume import extract_script

LAYOUT_17 = ImageLayout(17, "/var/lib/postgresql/data", "/var/lib/postgresql/data")
LAYOUT_18 = ImageLayout(18, "/var/lib/postgresql/18/docker", "/var/lib/postgresql")


def test_extraction_never_writes_over_a_cluster_unless_asked():
    guarded = extract_script(LAYOUT_18, 2, {"restore_command": "x"}, clear=False)
    assert "-mindepth 1 -delete" not in guarded
    assert "is not empty; refusing to restore over it" in guarded and guarded.endswith("; trap - EXIT")
    assert "pgdata=/var/lib/postgresql/18/docker; scratch=/var/lib/postgresql/.pgdock-restore-chain; " \
           "wal=/var/lib/postgresql/pgdock-restore-wal;" in guarded
    assert """trap 'rm -rf "$pgdata" "$scratch" "$wal"' EXIT""" in guarded
    assert "pg_combinebackup" in guarded and "recovery.signal" in guarded
    cleared = extract_script(LAYOUT_17, 1, None, clear=True)
    assert cleared.startswith("vol=/var/lib/postgresql/data;") and 'find "$vol" -mindepth 1 -delete' in cleared
    assert "trap" not in cleared and "pg_combinebackup" not in cleared and "recovery.signal" not in cleared


def test_a_copy_without_the_archive_mount_turns_archive_mode_off():
    line = 'echo "archive_mode = \'off\'" >> "$pgdata/postgresql.auto.conf"'
    assert line in extract_script(LAYOUT_18, 1, None, clear=True)
    assert "archive_mode" not in extract_script(LAYOUT_18, 1, None, clear=True, archiving=True)


def test_a_hostile_pgdata_is_data_to_the_shell(tmp_path):
    """The guard runs for real in sh: a PGDATA named with $(), backticks, quotes and spaces that
    holds a cluster is refused (exit 4) and named exactly; nothing it names is executed or removed."""
    pgdata = tmp_path / "vol" / "my $(touch pwned) `touch pwned2` 'q' dir"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("18\n")
    layout = ImageLayout(18, str(pgdata), str(tmp_path / "vol"))
    run = subprocess.run(["sh", "-c", extract_script(layout, 1, None, clear=False), "extract", "/nonexistent"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 4, run.stderr
    assert f"{pgdata} is not empty; refusing to restore over it" in run.stderr
    assert (pgdata / "PG_VERSION").exists()
    assert not list(tmp_path.rglob("pwned*"))
