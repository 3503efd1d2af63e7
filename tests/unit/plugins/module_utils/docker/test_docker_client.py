"""docker.client: what the collection marks as its own, mounts read back, sizes, and the pull policy."""

from __future__ import annotations

from types import SimpleNamespace

import docker.errors
import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    DockerAccessError,
    ensure_image,
    is_managed,
    managed_labels,
    mount_source,
    size_in_bytes,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog


def test_the_collections_mark_beside_the_users_labels():
    labels = managed_labels({"team": "db"})
    assert labels == {"team": "db", "org.pgdock.managed-by": "pgdock.postgres"} and is_managed(labels)
    assert not is_managed({"org.pgdock.managed-by": "someone else"}) and not is_managed(None)


def test_what_a_container_mounts_where():
    attrs = {"Mounts": [{"Type": "volume", "Name": "pg1-data", "Source": "/var/lib/docker/volumes/pg1-data/_data",
                         "Destination": "/var/lib/postgresql"},
                        {"Type": "bind", "Source": "/srv/wal", "Destination": "/pgdock-wal-archive"}]}
    assert mount_source(attrs, "/var/lib/postgresql") == "pg1-data"
    assert mount_source(attrs, "/pgdock-wal-archive", "bind") == "/srv/wal"
    assert mount_source(attrs, "/pgdock-wal-archive", "volume") is None and mount_source({}, "/x") is None


def test_sizes_in_dockers_units():
    assert size_in_bytes("512m", "memory") == 512 * 1024 ** 2 and size_in_bytes(None, "memory") is None
    with pytest.raises(ValueError, match="^shm_size: 'lots' is not a size"):
        size_in_bytes("lots", "shm_size")


class Images:
    """An image store that holds `local` and answers a pull with `remote` (or fails)."""

    def __init__(self, local=None, remote=None):
        self.local, self.remote, self.pulled = local, remote, []

    def get(self, name):
        if self.local is None:
            raise docker.errors.NotFound("no such image")
        return self.local

    def pull(self, name):
        self.pulled.append(name)
        if self.remote is None:
            raise docker.errors.APIError("no registry")
        return self.remote


def run(images, pull, check_mode=False):
    log, warnings = ActionLog(check_mode), []
    image = ensure_image(SimpleNamespace(images=images), "postgres:18", pull, log, warnings.append)
    return image, log.actions, warnings


def test_a_local_image_is_used_unless_always():
    local = SimpleNamespace(id="sha256:a")
    images = Images(local)
    assert run(images, "missing") == (local, [], []) and images.pulled == []
    assert run(images, "never") == (local, [], [])


def test_always_pulls_and_a_pull_that_brings_nothing_new_is_no_change():
    local = SimpleNamespace(id="sha256:a")
    assert run(Images(local, SimpleNamespace(id="sha256:a")), "always")[1] == []
    newer = SimpleNamespace(id="sha256:b")
    assert run(Images(local, newer), "always") == (newer, ["pull image postgres:18"], [])


def test_a_failed_pull_keeps_the_local_copy_with_a_warning():
    local = SimpleNamespace(id="sha256:a")
    image, actions, warnings = run(Images(local), "always")
    assert image is local and actions == [] and "using the local image" in warnings[0]


def test_a_missing_image_is_pulled_or_refused():
    with pytest.raises(DockerAccessError, match="is not present on the Docker host and pull is 'never'"):
        run(Images(), "never")
    with pytest.raises(DockerAccessError, match="could not be pulled.*testbed/build-images.sh"):
        run(Images(), "missing")
    images = Images()
    assert run(images, "missing", check_mode=True) == (None, ["pull image postgres:18"], []) and images.pulled == []
