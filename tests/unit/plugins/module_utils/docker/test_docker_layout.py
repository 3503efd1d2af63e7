"""Unit tests of image layouts and of the check that a data volume fits an image."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import (
    check_volume_fits,
    layout_of_image,
    parse_handed_over,
    parse_probe,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError


def image(major: int, pgdata: str, volume: str) -> dict:
    return {"Config": {"Env": [f"PG_MAJOR={major}", f"PGDATA={pgdata}"], "Volumes": {volume: {}}}}


OLD = image(17, "/var/lib/postgresql/data", "/var/lib/postgresql/data")
NEW = image(18, "/var/lib/postgresql/18/docker", "/var/lib/postgresql")


def test_layouts_of_both_kinds():
    old = layout_of_image("postgres:17", OLD)
    assert (old.major, old.pgdata, old.volume_path, old.pgdata_in_volume) == (
        17, "/var/lib/postgresql/data", "/var/lib/postgresql/data", ".")
    new = layout_of_image("postgres:18", NEW)
    assert (new.major, new.volume_path, new.pgdata_in_volume) == (18, "/var/lib/postgresql", "18/docker")


def test_pgdata_override_mounts_the_volume_there():
    layout = layout_of_image("postgres:18", NEW, pgdata="/var/lib/postgresql/data")
    assert layout.volume_path == "/var/lib/postgresql/data" and layout.pgdata_in_volume == "."


def test_not_a_postgres_image():
    with pytest.raises(PgdockError, match="no PG_MAJOR"):
        layout_of_image("nginx", {"Config": {"Env": ["PATH=/bin"]}})


def test_parse_probe():
    assert parse_probe("PG_VERSION 17\n18/docker/PG_VERSION 18\n") == {".": "17", "18/docker": "18"}
    assert parse_probe("") == {}


def test_empty_and_matching_volumes_fit():
    new = layout_of_image("postgres:18", NEW)
    assert check_volume_fits(new, "v", "postgres:18", {}) is False
    assert check_volume_fits(new, "v", "postgres:18", {"18/docker": "18"}) is True


def test_other_major_is_refused():
    old = layout_of_image("postgres:17", OLD)
    with pytest.raises(PgdockError, match="holds a PostgreSQL 15 cluster but image 'postgres:17' is PostgreSQL 17"):
        check_volume_fits(old, "v", "postgres:17", {".": "15"})


def test_pre_18_layout_under_an_18_image_says_how_to_migrate():
    new = layout_of_image("postgres:18", NEW)
    with pytest.raises(PgdockError, match="laid out the pre-18 way.*pg_upgrade.*pgdata: /var/lib/postgresql/data"):
        check_volume_fits(new, "v", "postgres:18", {".": "17"})


def test_18_layout_under_an_older_image_is_refused():
    old = layout_of_image("postgres:17", OLD)
    with pytest.raises(PgdockError, match="another layout or major version"):
        check_volume_fits(old, "v", "postgres:17", {"18/docker": "18"})


def test_parse_probe_reads_handed_over_clusters():
    output = "PG_VERSION 15 handed-over\n18/docker/PG_VERSION 18\n"
    assert parse_probe(output) == {".": "15", "18/docker": "18"}
    assert parse_handed_over(output) == {"."}
    assert parse_handed_over("PG_VERSION 15\n") == set()


def test_a_handed_over_cluster_is_refused_with_the_reason():
    old = layout_of_image("postgres:15", image(15, "/var/lib/postgresql/data", "/var/lib/postgresql/data"))
    with pytest.raises(PgdockError, match="upgraded to PostgreSQL 18 at '18/docker' with pg_upgrade --link"):
        check_volume_fits(old, "v", "postgres:15", {".": "15", "18/docker": "18"}, {"."})
