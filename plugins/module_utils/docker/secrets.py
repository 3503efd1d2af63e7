# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secret files on the Docker host: a 0700 directory and 0600 files owned by the container's
postgres uid, written atomically and only when their content or ownership differs."""

from __future__ import annotations

import os
import tempfile

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError


def read_secret(path: str) -> str | None:
    """The content of a secret file, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PgdockError(f"cannot read {path}: {exc.strerror}") from None


def secret_needs_write(path: str, content: str, uid: int, gid: int, mode: int = 0o600) -> bool:
    """Whether the file at `path` lacks `content`, the owner uid:gid or the mode."""
    if read_secret(path) != content:
        return True
    st = os.stat(path)
    return (st.st_uid, st.st_gid, st.st_mode & 0o777) != (uid, gid, mode)


def owner_of(path: str | None, default: int = POSTGRES_UID) -> int:
    """The uid that owns `path` on this host (a server's secrets directory belongs to the image's
    postgres uid), or `default` when it does not exist."""
    try:
        return os.stat(path).st_uid if path else default
    except FileNotFoundError:
        return default


def make_private_dir(directory: str, uid: int, gid: int) -> None:
    """Create the directory (and parents) when missing; owner uid:gid, mode 0700."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chown(directory, uid, gid)
    os.chmod(directory, 0o700)


def write_secret(path: str, content: str, uid: int, gid: int, mode: int = 0o600) -> None:
    """Write `content` to `path` atomically with the given owner and mode (directory 0700 too)."""
    directory = os.path.dirname(path)
    try:
        make_private_dir(directory, uid, gid)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            os.fchmod(fd, mode)
            os.fchown(fd, uid, gid)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except PermissionError as exc:
        raise PgdockError(
            f"cannot write the secret file {path} owned by uid {uid} ({exc.strerror}): the module "
            "must run as root on the Docker host (become: true)"
        ) from None
    except OSError as exc:
        raise PgdockError(f"cannot write the secret file {path}: {exc.strerror}") from None


def remove_secret_dir(directory: str) -> bool:
    """Remove a secrets directory and its files; True when something was removed."""
    if not os.path.isdir(directory):
        return False
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)
    return True


def pgpass_line(user: str, password: str, host: str = "*", port: str = "*", database: str = "*") -> str:
    """One line of a libpq password file, with ':' and '\\' escaped as libpq expects."""
    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")
    return ":".join(esc(v) for v in (host, port, database, user, password)) + "\n"
