# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How an extra sanity check runs: on the collection tree given (or this checkout), each problem on a
line of its own, exit status 1 when there is one."""

from __future__ import annotations

import sys
from pathlib import Path


def run(check) -> int:
    """`check(collection: Path) -> list[str]` on argv[1] (default: this checkout); the exit status."""
    collection = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3]
    messages = check(collection)
    for message in messages:
        print(message)
    return 1 if messages else 0
