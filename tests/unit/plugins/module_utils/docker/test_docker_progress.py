"""docker.progress: phases with durations and bytes, a progress file with a line per percent step,
and the helper wait that hands the output over while a helper runs."""

from __future__ import annotations

import pytest
import requests.exceptions

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import wait_for_helper
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import (
    Progress,
    human_bytes,
    last_pg_progress,
)


class FakeHelper:
    """A helper that runs for len(outputs) polls, printing one more pg_basebackup line each time."""

    def __init__(self, outputs):
        self.outputs, self.polls = list(outputs), 0

    def wait(self, timeout=None):
        if self.polls < len(self.outputs):
            self.polls += 1
            raise requests.exceptions.ConnectionError("read timed out")
        return {"StatusCode": 0}

    def logs(self, tail=None):
        return "\n".join(self.outputs[:self.polls]).encode()


def test_sizes_and_the_newest_progress_line():
    assert (human_bytes(512), human_bytes(1536), human_bytes(5 * 1024 ** 3)) == ("512 B", "1.5 kB", "5.0 GB")
    out = "waiting for checkpoint\n1024/4096 kB (25%), 0/1 tablespace\n2048/4096 kB (50%), 0/1 tablespace\n"
    assert last_pg_progress(out) == (2048 * 1024, 4096 * 1024, 50)
    assert last_pg_progress("nothing yet") is None


def test_a_phase_writes_a_line_per_percent_step_while_the_helper_runs(tmp_path):
    path = tmp_path / "sub" / "progress.log"
    progress = Progress(str(path), "replica r1")
    lines = [f"{k * 1000}/4000 kB ({k * 25}%), 0/1 tablespace" for k in (1, 1, 2, 4)]
    with progress.phase("base backup") as phase:
        assert wait_for_helper(FakeHelper(lines), timeout=60, on_output=progress.pg_progress_watcher(phase)) == {
            "StatusCode": 0}
    text = path.read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in text] == [
        "base backup started", "base backup 25% (1000.0 kB of 3.9 MB)", "base backup 50% (2.0 MB of 3.9 MB)",
        "base backup 100% (3.9 MB of 3.9 MB)", f"base backup done in {progress.phases[0]['seconds']:.1f} s, 3.9 MB"]
    assert progress.phases[0]["phase"] == "base backup" and progress.phases[0]["bytes"] == 4000 * 1024


def test_a_failed_phase_says_so_and_is_not_returned(tmp_path):
    progress = Progress(str(tmp_path / "p.log"), "restore x")
    with pytest.raises(RuntimeError):
        with progress.phase("extract"):
            raise RuntimeError("boom")
    assert progress.phases == [] and "extract failed after" in (tmp_path / "p.log").read_text()
    assert Progress(None, "check mode").line("nothing written") is None


def test_the_wait_gives_up_at_the_timeout():
    with pytest.raises(requests.exceptions.RequestException):
        wait_for_helper(FakeHelper(["1/9 kB (11%)"] * 5), timeout=0, on_output=lambda out: None)
