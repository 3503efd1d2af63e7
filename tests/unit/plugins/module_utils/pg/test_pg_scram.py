"""SCRAM-SHA-256 verifiers and SASLprep against known answers: RFC 7677's exchange, and verifiers that
real PostgreSQL 18 and 15 servers (the test images) stored for `SET password_encryption = 'scram-sha-256';
ALTER ROLE kat PASSWORD '...'` (read back from pg_authid; the same passwords logged in with libpq)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.scram import (
    parse_verifier,
    password_bytes,
    saslprep,
    scram_verifier,
    verify_password,
)

# (password, verifier computed by the server). Mapping, NFKC, bidi and prohibited (raw bytes) cases.
SERVER_VECTORS = [
    # PostgreSQL 18
    ("pencil", "SCRAM-SHA-256$4096:WFfkP+gpZhXVBJULhANlzA==$RFvWr8E/G/BqPbaKcZ0fAsUQO913q8hrzCFOkk3VB9Y="
               ":LpDuy7CNJfWEguj8vEggwtVRIn6NetfQ9ku/rEkWufU="),
    ("I\u00adX", "SCRAM-SHA-256$4096:RL/ea7BFB+xGZVnVZXh3qA==$hS5e6eMWU/g4PoiO0+DYC2lHtPyZxpH2TUSk1J3vgBk="
                 ":KOSmXKcbw969uSZ9HxY2iHJDxoil8bR3s10c86Yhw5U="),
    ("\u2168", "SCRAM-SHA-256$4096:8mZznHrKrRZRExu2QFx41A==$9Mgkgbkqsf1IYh+AwM/KQUTkohosszelOvIxcVMPZF0="
               ":RCDaDAd7UHhyNbzdy6QxJBibV3/lhml7Bf/fE9xXg7s="),
    ("a\u00a0b", "SCRAM-SHA-256$4096:dT0D3rH5OMdiNrA6pSH0yg==$kdYe/F1csKwtcP6T8I8frLMyyZ0I6fP4iJdNfrXd5Es="
                 ":ik/IKKghUXAt+GTQ2Mtkxkr2ls1YFWldHL2yhdeqX3M="),
    ("p'w\"d \\ $HOME\nn\u00f8-ascii",
     "SCRAM-SHA-256$4096:ecYv0H6zVJk/lvOC9j5T0A==$VeEXdhZ+fWwZ+ADJn280Fk3PWaxKesZdsETAkcLA6l8="
     ":lQ2ajEOTZOO2jETXsFtas9WbtfivlOwM4XANwFqyPpk="),
    ("\u05d0a", "SCRAM-SHA-256$4096:nXMzEtezYcUeln6kNutQrA==$+Vs21NGAduVyC7jSjd+UV5byE71KUY6cP6Gos0VHbWE="
                ":2BczJ4v5Yw0GvL/TUJufW6ctPDwcFuOcfeKXvrMTBF0="),
    ("\u0627\u0031\u0628", "SCRAM-SHA-256$4096:CEImsoSWbBZNVPp0RXQ1hg==$JJpHQl8G9/lpCk33WpPklax8p8M+RdU1rRsOuq8unb8="
                           ":IlvidlcCd0TJzDI4rVjylanDQp/g5S6d+4H5TRm3faY="),
    ("\u00aa", "SCRAM-SHA-256$4096:2UesgNnxSiRgtBdTEu6B2w==$vpl6lMGViDLOS1f3dxLeWaHIg1YFbH+Klg0EKtJ+KII="
               ":y3UcDM8zGZ/8KaC+XZZMhU5NYZTiqiew53Oz+LOVIRE="),
    ("x\u200b", "SCRAM-SHA-256$4096:9lu85vIQ0kdhcvaivdKnaw==$GzIjYQiEE7AEa7POOEXGgPluOsfX21U1hMakLNNjQz4="
                ":pP1xGA8su45QzP1K9w47slQPCvEpAQYzBt47xSTt35w="),
    ("cafe\u0301", "SCRAM-SHA-256$4096:DeS5EnHrBodsRriCtakb2w==$LFQvfiLorI1+ToqTJcHDCwIfj5Zn3V7vJBQ7AzhJkGY="
                   ":K47ROBtON9wRiB/hQe3grWKJK22TDTeNoGNCGn0V8uI="),
    ("\U0001f600", "SCRAM-SHA-256$4096:4dYl98tOGelwsOqCphjXUw==$K+CB2fY4hvyvIcbOGDHxaTaGs43yi2kJsna6F+0r3mM="
                   ":inP9Zjb8R9eOC1ky7/KRgXjFxG9cjAwnZHTCuYvOdAQ="),
    ("sp ace\u3000", "SCRAM-SHA-256$4096:tDxQskiZOYNfdykNfKrb7A==$xATNScoF6NWikHQM8pHcTspXG25B0MEIew/Mhb7Xs7c="
                     ":ZSX29KIti8InTCg9VAx9T9dbCZqG7xCyRFgRgNIvMKg="),
    # PostgreSQL 15
    ("pencil", "SCRAM-SHA-256$4096:J2ysSD1sIZs2rAQO5pDVkw==$Zsku+ao8Wch9z3vmIVbJIZ7OHL03qPvAwkChOp6Rfqo="
               ":UoLqIB1muIQmPHfb1SXE8ApfWC2GwI57A/G6qTyIddQ="),
    ("\u2168", "SCRAM-SHA-256$4096:+RbFHOuWW1a9fY1Se2i6gA==$l9CX/j/UfP4jlU7qK3sCNltWW7G0CIRbeRANRAQFXp0="
               ":72R1FW7d4IJfNem5pu2j7LdvSnno3G1UDmUBSeLy99E="),
    ("p'w\"d \\ $HOME\nn\u00f8-ascii",
     "SCRAM-SHA-256$4096:HmGl+xPyZdEiZbnanEeX7g==$O/33BrloPqvmQkc7dXHERSpZLvqN18nTU0hBngJcidc="
     ":959nliZ8h6JhWDsIac1cBBkqhKgNPYs1Y0JHPqNNMVQ="),
    ("x\u200b", "SCRAM-SHA-256$4096:xth5T4Qayngr1+iVB2B0Jw==$ql4csQrI5NhPUBVGyEqJh1isadL7ORKTGLq2h7zlNOQ="
                ":ljYPfth8+Xujt8iAWJdyroNLcWtGNmPgfGMU1DxsU3M="),
]


@pytest.mark.parametrize("password, verifier", SERVER_VECTORS)
def test_server_verifiers_are_accepted(password, verifier):
    assert verify_password(password, verifier)
    assert not verify_password(password + "x", verifier)
    iterations, salt, _stored, _server = parse_verifier(verifier)
    # the same salt and iterations give the very verifier the server stored
    assert scram_verifier(password, salt, iterations) == verifier


def test_saslprep_equivalents_share_a_verifier():
    roman_nine = SERVER_VECTORS[2][1]  # stored for U+2168 ROMAN NUMERAL NINE
    assert verify_password("IX", roman_nine)
    assert verify_password("I\u00adX", roman_nine)  # soft hyphen maps to nothing
    assert verify_password("I\u00adX", SERVER_VECTORS[1][1]) and verify_password("IX", SERVER_VECTORS[1][1])
    assert verify_password("a b", SERVER_VECTORS[3][1])  # no-break space maps to space
    assert verify_password("x ", SERVER_VECTORS[8][1])  # U+200B is a space (C.1.2) before "nothing" (B.1)
    assert verify_password("caf\u00e9", SERVER_VECTORS[9][1])  # NFKC composes e + combining acute
    assert verify_password("a", SERVER_VECTORS[7][1])  # feminine ordinal indicator -> a


def test_rfc7677_exchange():
    """RFC 7677 section 3: the verifier's keys check the client proof and give the server signature."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    _iterations, _salt, stored_key, server_key = parse_verifier(scram_verifier("pencil", salt, 4096))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth = (f"n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
            f"c=biws,r={nonce}").encode()
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_key = bytes(a ^ b for a, b in zip(proof, hmac.new(stored_key, auth, hashlib.sha256).digest()))
    assert hashlib.sha256(client_key).digest() == stored_key
    assert base64.b64encode(hmac.new(server_key, auth, hashlib.sha256).digest()) == \
        b"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


@pytest.mark.parametrize("password, prepared", [
    ("pencil", b"pencil"),
    ("a\nb\x07", b"a\nb\x07"),  # pure ASCII is used as it is, control characters included
    ("I\u00adX", b"IX"),
    ("\u2168", b"IX"),
    ("a\u00a0b", b"a b"),
    ("x\u200b", b"x "),
    ("\u3000", b" "),
    ("cafe\u0301", "caf\u00e9".encode()),
    ("\uff21", b"A"),  # fullwidth A
    ("\u0627\u0031\u0628", "\u0627\u0031\u0628".encode()),  # RandALCat first and last: allowed
    ("n\u00f8\n", None),  # ASCII control character in non-ASCII input: prohibited
    ("\u05d0a", None),  # RandALCat mixed with LCat
    ("\u0627\u0031", None),  # RandALCat not last
    ("\ue000x", None),  # private use
    ("\U0001f600", None),  # unassigned in Unicode 3.2
    ("\u00ad", None),  # empty after mapping
    (b"\xff\xfe", None),  # not UTF-8
    (b"\xc3\xa9", "\u00e9".encode()),
])
def test_saslprep(password, prepared):
    assert saslprep(password) == prepared


def test_failed_saslprep_hashes_the_raw_bytes():
    assert password_bytes("n\u00f8\n") == "n\u00f8\n".encode()
    assert password_bytes(b"\xff\xfe") == b"\xff\xfe"
    assert password_bytes("\udcff") == b"\xff"  # surrogate-escaped byte from a non-UTF-8 source


def test_verifier_shape_and_salt():
    first, second = scram_verifier("secret"), scram_verifier("secret")
    assert first != second  # a new random salt each time
    iterations, salt, stored_key, server_key = parse_verifier(first)
    assert (iterations, len(salt), len(stored_key), len(server_key)) == (4096, 16, 32, 32)
    assert verify_password("secret", first) and verify_password("secret", second)
    assert parse_verifier(scram_verifier("secret", b"salt", 10))[0] == 10


@pytest.mark.parametrize("stored", [
    None, "", "md5" + "0" * 32, "SCRAM-SHA-256$4096:c2FsdA==$short:short", "SCRAM-SHA-256$0:c2FsdA==$"
    + base64.b64encode(b"x" * 32).decode() + ":" + base64.b64encode(b"y" * 32).decode(), "SCRAM-SHA-1$4096:a$b:c",
])
def test_not_a_verifier(stored):
    assert parse_verifier(stored) is None
    assert not verify_password("secret", stored)
