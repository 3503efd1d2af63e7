"""The extraction script of restore.volume: it never writes over a cluster unless asked, and a copy
without the archive mount does not archive."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import ImageLayout
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.volume import extract_script

LAYOUT_17 = ImageLayout(17, "/var/lib/postgresql/data", "/var/lib/postgresql/data")
LAYOUT_18 = ImageLayout(18, "/var/lib/postgresql/18/docker", "/var/lib/postgresql")


def test_extraction_never_writes_over_a_cluster_unless_asked():
    guarded = extract_script(LAYOUT_18, 2, {"restore_command": "x"}, clear=False)
    assert "find /var/lib/postgresql -mindepth 1 -delete" not in guarded
    assert "is not empty; refusing to restore over it" in guarded and guarded.endswith("; trap - EXIT")
    assert "trap 'rm -rf /var/lib/postgresql/18/docker /var/lib/postgresql/.pgdock-restore-chain " \
           "/var/lib/postgresql/pgdock-restore-wal' EXIT" in guarded
    assert "pg_combinebackup" in guarded and "recovery.signal" in guarded
    cleared = extract_script(LAYOUT_17, 1, None, clear=True)
    assert cleared.startswith("extract()") and "find /var/lib/postgresql/data -mindepth 1 -delete" in cleared
    assert "trap" not in cleared and "pg_combinebackup" not in cleared and "recovery.signal" not in cleared


def test_a_copy_without_the_archive_mount_turns_archive_mode_off():
    line = "echo \"archive_mode = 'off'\" >> /var/lib/postgresql/18/docker/postgresql.auto.conf"
    assert line in extract_script(LAYOUT_18, 1, None, clear=True)
    assert "archive_mode" not in extract_script(LAYOUT_18, 1, None, clear=True, archiving=True)
