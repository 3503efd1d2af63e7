"""Unit tests of filling a data volume from a backup without Docker: which chain the container
module's restore_from picks, what it refuses, and the extraction script's guards."""

from __future__ import annotations

import os

import pytest

from backup_fixtures import add_backup as add_catalogued
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import Repository
from ansible_collections.pgdock.postgres.plugins.module_utils.container.engine import ContainerEngine
from ansible_collections.pgdock.postgres.plugins.module_utils.container.options import container_params
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import ImageLayout
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.restore_from import BackupVolumeFiller

LAYOUT_17 = ImageLayout(17, "/var/lib/postgresql/data", "/var/lib/postgresql/data")
LAYOUT_18 = ImageLayout(18, "/var/lib/postgresql/18/docker", "/var/lib/postgresql")


def add_backup(repo: Repository, backup_id: str, stop_time: str, major: int, kind: str = "full",
               parent=None) -> None:
    add_catalogued(repo, backup_id, stop_time, kind, parent, major=major, server="pg-old", superuser="postgres")


@pytest.fixture
def repo(tmp_path):
    repository = Repository(str(tmp_path / "repo"))
    repository.ensure_layout()
    add_backup(repository, "F17", "2025-01-01T01:00:00+00:00", 17)
    add_backup(repository, "I17", "2025-01-02T01:00:00+00:00", 17, "incremental", "F17")
    add_backup(repository, "F18", "2025-01-03T01:00:00+00:00", 18)
    add_backup(repository, "L18", "2025-01-04T01:00:00+00:00", 18, "logical")
    return repository


def engine(warnings: list, **restore_from) -> ContainerEngine:
    params = container_params(name="pg-new", networks=[{"name": "net"}], restore_from=restore_from)
    return ContainerEngine(params, False, False, warnings.append, filler=BackupVolumeFiller(restore_from))


def plan_restore(run: ContainerEngine, layout: ImageLayout):
    """What the container engine's filler plans for a new, empty volume."""
    return run.filler.plan(run, layout)


def test_latest_chain_is_the_newest_complete_physical_chain_of_the_major(repo):
    assert [b["id"] for b in repo.latest_chain(17)] == ["F17", "I17"]
    assert [b["id"] for b in repo.latest_chain(18)] == ["F18"]
    assert repo.latest_chain(15) is None
    add_backup(repo, "I17b", "2025-01-05T01:00:00+00:00", 17, "incremental", "gone")
    assert [b["id"] for b in repo.latest_chain(17)] == ["F17", "I17"]  # a broken chain is passed over


def test_restore_from_plans_the_newest_backup_of_the_image_major(repo):
    warnings: list = []
    run = engine(warnings, repository=repo.root, target="latest")
    plan = plan_restore(run, LAYOUT_17)
    assert [b["id"] for b in plan.chain] == ["F17", "I17"] and plan.label["id"] == "I17"
    assert plan.recovery is None and plan.replay == [] and warnings == [] and run.log.actions == []
    plan = plan_restore(engine(warnings, repository=repo.root, target="latest"), LAYOUT_18)
    assert plan.label["id"] == "F18"


def test_restore_from_replays_archived_wal_unless_immediate(repo):
    with open(os.path.join(repo.wal_dir, "000000010000000000000002"), "wb"):
        pass
    plan = plan_restore(engine([], repository=repo.root, target="latest"), LAYOUT_18)
    assert plan.recovery["restore_command"] == "cp /var/lib/postgresql/pgdock-restore-wal/%f %p"
    assert plan.replay and "after backup F18" in plan.replay[0]
    assert plan_restore(engine([], repository=repo.root, target="immediate"), LAYOUT_18).recovery is None


def test_a_named_backup_stops_at_its_end_unless_target_says_latest(repo):
    with open(os.path.join(repo.wal_dir, "000000010000000000000002"), "wb"):
        pass
    named = plan_restore(engine([], repository=repo.root, backup="F18"), LAYOUT_18)
    assert named.recovery is None and "stop at the end of backup F18, as it was" in named.replay[0]
    assert plan_restore(engine([], repository=repo.root, backup="F18", target="latest"), LAYOUT_18).recovery
    assert plan_restore(engine([], repository=repo.root), LAYOUT_18).recovery  # the newest: all WAL


@pytest.mark.parametrize("where", ["empty", "missing", "other major"])
def test_nothing_to_restore_initialises_an_empty_cluster_and_says_so(repo, tmp_path, where):
    root = {"empty": str(tmp_path / "empty"), "missing": str(tmp_path / "missing"), "other major": repo.root}[where]
    if where == "empty":
        Repository(root).ensure_layout()
    warnings: list = []
    run = engine(warnings, repository=root, target="latest")
    assert plan_restore(run, ImageLayout(15, "/var/lib/postgresql/data", "/var/lib/postgresql/data")) is None
    assert len(warnings) == 1 and "an empty cluster is initialised" in warnings[0]
    assert run.log.actions and run.log.actions[0].startswith("initialise an empty cluster (nothing to restore")
    assert ("does not exist" in run.log.actions[0]) == (where == "missing")


def test_explicit_backup_must_be_physical_and_of_the_image_major(repo):
    plan = plan_restore(engine([], repository=repo.root, backup="F17", target="latest"), LAYOUT_17)
    assert [b["id"] for b in plan.chain] == ["F17"]
    with pytest.raises(PgdockError, match=r"^restore_from: backup F18 is of PostgreSQL 18, image .* is PostgreSQL 17"):
        plan_restore(engine([], repository=repo.root, backup="F18", target="latest"), LAYOUT_17)
    with pytest.raises(PgdockError, match=r"^restore_from: backup L18 is a logical backup"):
        plan_restore(engine([], repository=repo.root, backup="L18", target="latest"), LAYOUT_18)
    with pytest.raises(PgdockError, match="'nope' is not in the catalogue"):
        plan_restore(engine([], repository=repo.root, backup="nope", target="latest"), LAYOUT_18)


def test_restore_needs_a_started_server_and_intact_files(repo):
    run = engine([], repository=repo.root, target="latest")
    run.p["state"] = "stopped"
    with pytest.raises(PgdockError, match="^restore_from: restoring backup F18 needs state: started and wait: true"):
        plan_restore(run, LAYOUT_18)
    with open(os.path.join(repo.backup_dir("full", "F18"), "base.tar.gz"), "ab") as handle:
        handle.write(b"x")
    with pytest.raises(PgdockError, match=r"^backup F18 failed its sha256 check.*base\.tar\.gz: sha256 mismatch"):
        plan_restore(engine([], repository=repo.root, target="latest"), LAYOUT_18)


def test_superuser_of_another_name_is_warned_about(repo):
    warnings: list = []
    run = engine(warnings, repository=repo.root, target="latest")
    run.p["superuser"] = "admin"
    assert plan_restore(run, LAYOUT_18).superuser == "postgres"
    assert warnings and "set superuser: postgres" in warnings[0]
