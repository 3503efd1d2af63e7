# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Working inside a running PostgreSQL container: commands, files in its file system, restart,
readiness. Used by modules that must touch what SQL cannot (pg_hba.conf, restarts)."""

from __future__ import annotations

import io
import posixpath
import tarfile
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import HELPER_LABEL, POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import docker_action, managed_labels
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import container_superuser
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

try:
    import docker.errors
    import requests.exceptions
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass

LOG_TAIL_LINES = 40
POLL_FIRST, POLL_MAX, POLL_FACTOR = 0.1, 0.5, 1.5


class HelperTimeout(PgdockError):
    """A helper container ran past its timeout and was stopped."""


def poll_intervals(first: float = POLL_FIRST, cap: float = POLL_MAX):
    """Sleeps between polls: short at first (a fast event is seen at once), growing to `cap`."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * POLL_FACTOR)


def run_in(container, argv: list[str], user: str = "postgres") -> tuple[int, str]:
    """Run a command in the container; (exit code, combined output)."""
    with docker_action(f"running {argv[0]} in container {container.name!r}"):
        result = container.exec_run(argv, user=user)
    return result.exit_code, result.output.decode("utf-8", "replace")


def run_in_split(container, argv: list[str], user: str = "postgres") -> tuple[int, str, str]:
    """Run a command in the container; (exit code, its standard output, its standard error)."""
    with docker_action(f"running {argv[0]} in container {container.name!r}"):
        result = container.exec_run(argv, user=user, demux=True)
    out, err = result.output if isinstance(result.output, tuple) else (result.output, b"")
    return result.exit_code, (out or b"").decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace")


def read_member(container, path: str) -> tuple[bytes, int, int] | None:
    """A file from the container's file system (a stopped container too) with its owner: (content,
    uid, gid), or None when it does not exist."""
    try:
        stream, _stat = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        raise PgdockError(f"reading {path} in container {container.name!r}: {exc.explanation or exc}") from None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmembers()[0]
        return tar.extractfile(member).read(), member.uid, member.gid


def read_bytes(container, path: str) -> bytes | None:
    """A file from the container's file system (a stopped container too), or None when it does not exist."""
    found = read_member(container, path)
    return None if found is None else found[0]


def read_file(container, path: str) -> str | None:
    """A text file from the container's file system, or None when it does not exist."""
    data = read_bytes(container, path)
    return None if data is None else data.decode("utf-8")


def write_file(container, path: str, content: str, uid: int = POSTGRES_UID, gid: int = POSTGRES_UID,
               mode: int = 0o600) -> None:
    """Write a text file into the container (replacing it), owned by uid:gid with `mode`."""
    data = content.encode("utf-8")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(posixpath.basename(path))
        info.size, info.uid, info.gid, info.mode, info.mtime = len(data), uid, gid, mode, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    with docker_action(f"writing {path} in container {container.name!r}"):
        if not container.put_archive(posixpath.dirname(path), buffer.getvalue()):
            raise PgdockError(f"writing {path} in container {container.name!r} failed")


def log_tail(container, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The container's last log lines (empty when they cannot be read)."""
    try:
        return container.logs(tail=lines).decode("utf-8", "replace").splitlines()
    except docker.errors.DockerException:
        return []


def wait_until_ready(container, superuser: str, timeout: int) -> None:
    """Poll pg_isready over TCP inside the container until the server accepts connections.

    TCP, not the socket: the entrypoint's initialisation server listens on the socket only.
    Fails with the log tail when the container stops or restarts, or after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    delays = poll_intervals()
    probe = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", superuser, "-d", "postgres", "-q"]
    while True:
        container.reload()
        state = container.attrs["State"]
        if state.get("Status") in ("exited", "dead") or state.get("Restarting"):
            raise PgdockError(
                f"container {container.name!r} stopped while PostgreSQL was starting (exit code "
                f"{state.get('ExitCode')}); see 'logs' for its last lines", logs=log_tail(container))
        try:
            code = container.exec_run(probe, user="postgres").exit_code
        except docker.errors.APIError:
            code = -1
        if code == 0:
            return
        if time.monotonic() > deadline:
            raise PgdockError(
                f"PostgreSQL in {container.name!r} did not accept connections within {timeout} s; "
                "see 'logs' for its last lines", logs=log_tail(container))
        time.sleep(next(delays))


def restart_server(container, wait_timeout: int, stop_timeout: int | None = None) -> None:
    """Restart a server container (clean shutdown first, within its own stop timeout unless one is
    given) and wait until it accepts connections as its superuser."""
    config = container.attrs.get("Config") or {}
    with docker_action(f"restarting container {container.name!r}"):
        container.restart(timeout=int(stop_timeout or config.get("StopTimeout") or 120))
    wait_until_ready(container, container_superuser(container), wait_timeout)


def run_helper(client, image: str, argv: list[str], mounts: list, what: str, network: str | None = None,
               user: str = f"{POSTGRES_UID}:{POSTGRES_UID}", environment: dict | None = None,
               timeout: int | None = None, network_of: str | None = None, on_output=None) -> tuple[int, str]:
    """Run a throw-away container of `image` to completion (entrypoint bypassed: argv[0] is the
    program), on `network`, in the network namespace of container `network_of` (its addresses, names
    and DNS), or on none; (exit code, output). It is removed afterwards with its anonymous volumes.
    After `timeout` seconds (None: no limit) it is stopped and a PgdockError says so. `on_output`,
    when given, is called about once a second with the newest lines of its output while it runs.

    For tools such as pg_basebackup, pg_rewind or pg_restore that must run beside a server."""
    network_mode = f"container:{network_of}" if network_of else None if network else "none"
    with docker_action(what):
        helper = client.containers.create(
            image, entrypoint=argv[:1], command=argv[1:], mounts=mounts, user=user,
            network=network, network_mode=network_mode, environment=environment or {},
            labels=managed_labels({HELPER_LABEL: what[:60]}), detach=True)
        try:
            helper.start()
        except Exception:  # pylint: disable=broad-except  # re-raised: e.g. the container whose network it shares is gone
            helper.remove(force=True, v=True)  # a helper that never ran holds its mounts: not left behind
            raise
    try:
        try:
            status = wait_for_helper(helper, timeout, on_output)
        except requests.exceptions.RequestException:
            raise HelperTimeout(f"{what} did not finish within {timeout} s; the helper container was stopped "
                                "(give a longer timeout for a cluster of this size)", logs=log_tail(helper)) from None
        return status.get("StatusCode", -1), helper.logs().decode("utf-8", "replace")
    finally:
        with docker_action(f"removing the helper container of {what}"):
            helper.remove(force=True, v=True)


def wait_for_helper(helper, timeout: int | None, on_output=None) -> dict:
    """The helper's exit status; with `on_output`, its newest output lines are handed over about once
    a second until it exits. A RequestException when `timeout` passes first."""
    if on_output is None:
        return helper.wait(timeout=timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return helper.wait(timeout=1)
        except requests.exceptions.RequestException:
            on_output(helper.logs(tail=5).decode("utf-8", "replace"))
            if deadline is not None and time.monotonic() > deadline:
                raise


def run_script(client, image: str, script: str, mounts: list, what: str, network: str | None = None,
               environment: dict | None = None, args: list | None = None, user: str = "0",
               timeout: int | None = None, on_output=None, network_of: str | None = None) -> str:
    """`script` with `sh -c` (set -e) in a helper container, as root unless `user` says otherwise;
    `args` become $1, $2... so that no value is interpolated into the script. Its output; a non-zero
    exit is a PgdockError with the helper's last lines. `on_output`, `network_of`: see run_helper."""
    code, output = run_helper(client, image, ["sh", "-c", "set -e; " + script, "pgdock-helper"] + list(args or []),
                              mounts, what, network, user, environment, timeout, network_of=network_of,
                              on_output=on_output)
    if code != 0:
        lines = output.strip().splitlines()
        raise PgdockError(f"{what} failed (exit code {code}): " + " / ".join(lines[-3:]), logs=lines[-40:])
    return output
