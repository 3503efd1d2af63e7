"""restore.extract_progress: the size of a backup's archive from its manifest, the checkpoint step,
and a line per new percent of a chain's extraction from tar's checkpoint lines."""

from __future__ import annotations

import json

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.extract import extract_function
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import Progress
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.extract_progress import (
    archive_bytes,
    checkpoint_records,
    ExtractWatcher,
    TAR_RECORD,
)


def test_the_archive_size_counts_a_header_and_whole_blocks_per_file(tmp_path):
    manifest = {"Files": [{"Path": "PG_VERSION", "Size": 3}, {"Path": "base/1/1259", "Size": 1024},
                          {"Path": "empty", "Size": 0}]}
    (tmp_path / "backup_manifest").write_text(json.dumps(manifest))
    assert archive_bytes(str(tmp_path)) == (512 + 512) + (512 + 1024) + 512
    assert archive_bytes(str(tmp_path / "missing")) == 0


def test_about_four_hundred_checkpoints_and_never_fewer_than_ten_records():
    assert checkpoint_records(1024) == 10
    assert checkpoint_records(400 * 1000 * TAR_RECORD) == 1000


def test_tar_prints_checkpoints_only_when_asked():
    assert "--checkpoint" not in extract_function()
    assert '--checkpoint=25 --checkpoint-action="echo=pgdock-extract $n %u"' in extract_function(25)


def test_a_line_per_new_percent_of_the_chain_and_100_only_at_the_end(tmp_path):
    progress = Progress(str(tmp_path / "p.log"), "restore r1")
    records = 10
    step = records * TAR_RECORD
    sizes = [100 * step, 100 * step]  # a full and an incremental of the same size
    with progress.phase("extract") as entry:
        watch = ExtractWatcher(progress, entry, sizes, records)
        watch("tar: pgdock-extract 1 10\n")
        watch("tar: pgdock-extract 1 10\n")  # no new checkpoint: no new line
        watch("tar: pgdock-extract 1 50\ntar: pgdock-extract 1 100\n")
        watch("tar: pgdock-extract 2 100\n")  # the second backup's last checkpoint: still 99%
        watch.finish()
    lines = [line.split(" ", 1)[1] for line in (tmp_path / "p.log").read_text().splitlines()]
    assert lines[1:-1] == ["restore r1: extract 5% (1000.0 kB of 19.5 MB)", "restore r1: extract 50% (9.8 MB of 19.5 MB)",
                           "restore r1: extract 99% (19.5 MB of 19.5 MB)", "restore r1: extract 100% (19.5 MB of 19.5 MB)"]
    assert progress.phases[0]["bytes"] == sum(sizes)
