"""Removal of what a benchmark created on the Docker engine, whatever state it got to."""

from __future__ import annotations

import docker


def remove_objects(client, containers=(), volumes=(), networks=()) -> None:
    """Remove the named containers (with their anonymous volumes), then volumes, then networks;
    the ones that do not exist are skipped."""
    for name in containers:
        try:
            client.containers.get(name).remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    for name in volumes:
        try:
            client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    for name in networks:
        try:
            client.networks.get(name).remove()
        except docker.errors.NotFound:
            pass
