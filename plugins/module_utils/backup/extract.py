# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a physical backup of the repository becomes a data directory, as a shell function for the
helper containers of the restore (restore.volume) and of the verification (backup.verify): base.tar.gz
and pg_wal.tar.gz extracted, the manifest copied beside them, then `pg_verifybackup` of the result
(file checksums and the backup's own WAL)."""

from __future__ import annotations

# what tar prints at each checkpoint: "<tag> <backup number ($n of the script)> <checkpoint number>"
CHECKPOINT_TAG = "pgdock-extract"


def extract_function(checkpoint_records: int | None = None) -> str:
    """extract <backup dir> <destination>: exit 3 when pg_verifybackup refuses the extracted backup.
    With `checkpoint_records`, tar prints a CHECKPOINT_TAG line every that many records of base.tar
    (the script sets $n, the backup's number in the chain)."""
    progress = ""
    if checkpoint_records:
        progress = f'--checkpoint={int(checkpoint_records)} --checkpoint-action="echo={CHECKPOINT_TAG} $n %u" '
    return (
        f'extract() {{ mkdir -p "$2"; tar -xzf "$1/base.tar.gz" {progress}-C "$2"; mkdir -p "$2/pg_wal"; '
        'tar -xzf "$1/pg_wal.tar.gz" -C "$2/pg_wal"; cp "$1/backup_manifest" "$2/"; pg_verifybackup -q -m "$1/backup_manifest" "$2" '
        '|| { echo "pg_verifybackup refused $1" >&2; exit 3; }; }; '
    )


EXTRACT_FUNCTION = extract_function()
