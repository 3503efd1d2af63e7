# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a PostgreSQL image keeps its data, and whether a data volume fits an image.

Up to 17 the official image keeps PGDATA=/var/lib/postgresql/data and the volume is mounted there;
from 18 the volume is /var/lib/postgresql and PGDATA=/var/lib/postgresql/<major>/docker.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

OLD_LAYOUT_PGDATA = "/var/lib/postgresql/data"

# Lists every PG_VERSION a volume may hold, one "<path relative to the volume> <major>" per line, with
# " handed-over" after a cluster that pg_upgrade --link or --swap gave to a newer one (its
# global/pg_control renamed to pg_control.old).
PROBE_SCRIPT = (
    'cd /probe || exit 0; '
    'for f in PG_VERSION data/PG_VERSION */docker/PG_VERSION; do '
    '[ -f "$f" ] || continue; d=$(dirname "$f"); h=""; '
    '[ -f "$d/global/pg_control.old" ] && [ ! -f "$d/global/pg_control" ] && h=" handed-over"; '
    'printf "%s %s%s\\n" "$f" "$(cat "$f")" "$h"; done; exit 0'
)
HANDED_OVER = "handed-over"


@dataclass(frozen=True)
class ImageLayout:
    """Where an image's server keeps its cluster, and where its data volume is mounted."""

    major: int
    pgdata: str
    volume_path: str

    @property
    def pgdata_in_volume(self) -> str:
        """PGDATA relative to the volume root ('.' when the volume is PGDATA itself)."""
        return posixpath.relpath(self.pgdata, self.volume_path)


def env_to_dict(items: list | None) -> dict:
    """A Docker environment list (KEY=value strings) as a dict."""
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in items or [])


def container_env(container) -> dict:
    """A container's environment as a dict."""
    return env_to_dict((container.attrs.get("Config") or {}).get("Env"))


def container_superuser(container) -> str:
    """The superuser of a server container (POSTGRES_USER, postgres when unset)."""
    return container_env(container).get("POSTGRES_USER") or "postgres"


def container_pgdata(container) -> str:
    """Where a server container keeps its cluster (PGDATA, the pre-18 place when unset)."""
    return container_env(container).get("PGDATA") or OLD_LAYOUT_PGDATA


def image_env(image_attrs: dict) -> dict:
    """An image's environment as a dict."""
    return env_to_dict((image_attrs.get("Config") or {}).get("Env"))


def layout_of_image(image_name: str, image_attrs: dict, pgdata: str | None = None) -> ImageLayout:
    """The layout of an official-style PostgreSQL image (PG_MAJOR and PGDATA in its environment).

    `pgdata` overrides the image's PGDATA; the volume is then mounted at that path itself.
    """
    env = image_env(image_attrs)
    raw_major = env.get("PG_MAJOR", "")
    try:
        major = int(raw_major.split(".")[0])
    except ValueError:
        raise PgdockError(
            f"image {image_name!r} does not look like a PostgreSQL image of the official kind: "
            "no PG_MAJOR in its environment (use postgres:<major> or an image built like it)"
        ) from None
    if pgdata:
        return ImageLayout(major, pgdata, pgdata)
    image_pgdata = env.get("PGDATA") or OLD_LAYOUT_PGDATA
    declared = (image_attrs.get("Config") or {}).get("Volumes") or {}
    holders = [v for v in declared if image_pgdata == v or image_pgdata.startswith(v.rstrip("/") + "/")]
    volume_path = max(holders, key=len) if holders else image_pgdata
    return ImageLayout(major, image_pgdata, volume_path)


def parse_probe(output: str) -> dict:
    """Parse PROBE_SCRIPT output into {relative path of the cluster directory: major}."""
    found = {}
    for line in output.splitlines():
        path, version = (line.strip().split(" ") + [""])[:2]
        if path and version:
            found[posixpath.dirname(path) or "."] = version
    return found


def parse_handed_over(output: str) -> set:
    """The cluster directories of PROBE_SCRIPT output that pg_upgrade handed over to a newer cluster."""
    return {posixpath.dirname(line.split(" ")[0]) or "." for line in output.splitlines()
            if line.strip().endswith(" " + HANDED_OVER)}


def check_volume_fits(layout: ImageLayout, volume: str, image: str, found: dict,
                      handed_over: frozenset | set = frozenset()) -> bool:
    """Raise a PgdockError when the volume's content would crash-loop the image's server, or when
    its cluster at the image's PGDATA was handed over to a newer one by pg_upgrade (`handed_over`).

    Returns True when the volume already holds a cluster at the image's PGDATA, False when empty.
    """
    expected = layout.pgdata_in_volume
    if expected in handed_over:
        newer = sorted(f"PostgreSQL {v} at {k!r}" for k, v in found.items() if k != expected and major_of(v) > layout.major)
        raise PgdockError(
            f"the PostgreSQL {found.get(expected)} cluster in data volume {volume!r} was upgraded"
            + (f" to {', '.join(newer)}" if newer else "")
            + " with pg_upgrade --link or --swap: its files belong to the new cluster now (its pg_control is "
            f"pg_control.old), and a server of image {image!r} started on them would corrupt both. Start the "
            "new major's image on this volume, or restore the old version from a backup into a new volume."
        )
    if expected in found:
        version = found[expected]
        if major_of(version) != layout.major:
            raise PgdockError(
                f"data volume {volume!r} holds a PostgreSQL {version} cluster but image {image!r} is "
                f"PostgreSQL {layout.major}: a server would not start on it. Use a PostgreSQL {version} "
                f"image, or upgrade the cluster to {layout.major} first (pg_upgrade into a new volume)."
            )
        return True
    if not found:
        return False
    where, version = sorted(found.items())[0]
    if layout.major >= 18 and where == ".":
        raise PgdockError(
            f"data volume {volume!r} is laid out the pre-18 way (a PostgreSQL {version} cluster at the "
            f"volume root, as mounted at {OLD_LAYOUT_PGDATA}), but image {image!r} mounts its volume at "
            f"{layout.volume_path} and keeps PGDATA in {layout.pgdata}. To migrate: upgrade the cluster "
            f"with pg_upgrade into a new volume in the 18+ layout (PGDATA {layout.volume_path}/"
            f"{layout.major}/docker), or keep the old layout by setting pgdata: {OLD_LAYOUT_PGDATA}"
            + ("" if major_of(version) == layout.major else f" with a PostgreSQL {version} image")
            + "."
        )
    raise PgdockError(
        f"data volume {volume!r} holds a PostgreSQL {version} cluster at {where!r} inside the volume, "
        f"but image {image!r} (PostgreSQL {layout.major}) expects its cluster at "
        f"{expected!r}: the volume was made by another layout or major version. Refusing to start a "
        "server that would initialise a second cluster beside it or fail to start."
    )


def major_of(version: str) -> int:
    """The major of a PG_VERSION ('15', '9.6' -> 9); -1 when it is not a version."""
    try:
        return int(version.split(".")[0])
    except ValueError:
        return -1
