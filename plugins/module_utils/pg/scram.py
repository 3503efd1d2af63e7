# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SCRAM-SHA-256 verifiers as PostgreSQL builds them (RFC 5802, RFC 7677), computed client-side so
that a cleartext password never reaches the server, and SASLprep (RFC 4013) the way PostgreSQL's
pg_saslprep applies it. Standard library only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import stringprep
import unicodedata

DEFAULT_ITERATIONS = 4096
SALT_LENGTH = 16
MAX_PASSWORD_BYTES = 1024  # PostgreSQL's MAX_PASSWORD_LENGTH in saslprep.c
VERIFIER_RE = re.compile(
    r"^SCRAM-SHA-256\$(?P<iterations>[0-9]+):(?P<salt>[A-Za-z0-9+/=]+)"
    r"\$(?P<stored_key>[A-Za-z0-9+/=]+):(?P<server_key>[A-Za-z0-9+/=]+)$"
)

# RFC 4013 section 2.3 (and PostgreSQL's prohibited_output_ranges), plus unassigned code points (A.1)
_PROHIBITED = (
    stringprep.in_table_c12, stringprep.in_table_c21, stringprep.in_table_c22, stringprep.in_table_c3,
    stringprep.in_table_c4, stringprep.in_table_c5, stringprep.in_table_c6, stringprep.in_table_c7,
    stringprep.in_table_c8, stringprep.in_table_c9, stringprep.in_table_a1,
)


def saslprep(password: str | bytes) -> bytes | None:
    """The SASLprep'd password as UTF-8 bytes, or None when PostgreSQL's pg_saslprep would fail
    (input not valid UTF-8, empty after mapping, prohibited character, bidi rule broken).

    Pure ASCII input is returned unchanged, as pg_saslprep does (no mapping, no prohibition).
    """
    raw = _as_bytes(password)
    if all(byte < 0x80 for byte in raw):
        return raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Non-ASCII spaces become U+0020 before "mapped to nothing" is applied (U+200B is in both tables)
    mapped = "".join(" " if stringprep.in_table_c12(ch) else ch
                     for ch in text if stringprep.in_table_c12(ch) or not stringprep.in_table_b1(ch))
    if not mapped:
        return None
    normal = unicodedata.normalize("NFKC", mapped)
    if any(check(ch) for ch in normal for check in _PROHIBITED):
        return None
    if any(stringprep.in_table_d1(ch) for ch in normal):
        if any(stringprep.in_table_d2(ch) for ch in normal):
            return None
        if not (stringprep.in_table_d1(normal[0]) and stringprep.in_table_d1(normal[-1])):
            return None
    return normal.encode("utf-8")


def password_bytes(password: str | bytes) -> bytes:
    """What PostgreSQL hashes: the SASLprep'd password, or its raw bytes when SASLprep fails."""
    prepared = saslprep(password)
    return _as_bytes(password) if prepared is None else prepared


def scram_verifier(password: str | bytes, salt: bytes | None = None,
                   iterations: int = DEFAULT_ITERATIONS) -> str:
    """`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64), as stored in pg_authid."""
    salt = os.urandom(SALT_LENGTH) if salt is None else salt
    stored_key, server_key = _keys(password_bytes(password), salt, iterations)
    return "SCRAM-SHA-256${0}:{1}${2}:{3}".format(iterations, _b64(salt), _b64(stored_key), _b64(server_key))


def parse_verifier(verifier: str | None) -> tuple[int, bytes, bytes, bytes] | None:
    """(iterations, salt, StoredKey, ServerKey) of a SCRAM-SHA-256 verifier; None for anything else
    (an md5 hash, no password, a malformed value)."""
    match = VERIFIER_RE.match(verifier or "")
    if not match:
        return None
    try:
        parts = [base64.b64decode(match.group(key), validate=True) for key in ("salt", "stored_key", "server_key")]
    except ValueError:
        return None
    iterations = int(match.group("iterations"))
    if iterations < 1 or len(parts[1]) != 32 or len(parts[2]) != 32:
        return None
    return iterations, parts[0], parts[1], parts[2]


def is_verifier(value: str | None) -> bool:
    """Whether `value` is a SCRAM-SHA-256 verifier (PostgreSQL stores such a 'password' as it is)."""
    return parse_verifier(value) is not None


def verify_password(password: str | bytes, verifier: str | None) -> bool:
    """Whether `password` matches the stored `verifier`, recomputed with its salt and iterations."""
    parsed = parse_verifier(verifier)
    if parsed is None:
        return False
    iterations, salt, stored_key, server_key = parsed
    mine_stored, mine_server = _keys(password_bytes(password), salt, iterations)
    return hmac.compare_digest(mine_stored, stored_key) and hmac.compare_digest(mine_server, server_key)


def _keys(secret: bytes, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", secret, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def _as_bytes(password: str | bytes) -> bytes:
    # surrogateescape: bytes that were not UTF-8 when decoded come back as they were
    return password if isinstance(password, bytes) else password.encode("utf-8", "surrogateescape")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
