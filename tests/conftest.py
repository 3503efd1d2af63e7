"""Make the checkout importable as ansible_collections.pgdock.postgres for unit and integration tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "integration"))
from ansible_runner import COLLECTIONS, ensure_collection_link  # noqa: E402

ensure_collection_link()
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
