"""What the query and script tests share: Docker names that start with pgdock-q- (the `unique`
fixture that pg_server names its server, network and volume with), SQL straight to a server, and a
run of one of the two modules on it."""

from __future__ import annotations

import secrets

import pytest

from ansible_runner import run_module
from pgclient import sql


@pytest.fixture
def unique():
    """unique(prefix) -> a name no other test uses, e.g. pgdock-q-srv18-3fa2c1."""
    token = secrets.token_hex(3)
    return lambda prefix: f"pgdock-q-{prefix}-{token}"


def server_sql(srv: dict, query: str, params=None, dbname: str = "postgres"):
    """Rows of one statement run directly on the test server (autocommit)."""
    return sql(srv["port"], srv["password"], query, params, user=srv["superuser"], dbname=dbname)


def table_exists(srv: dict, name: str) -> bool:
    """Whether a table of that name exists in the public schema."""
    return server_sql(srv, "SELECT to_regclass(%s) IS NOT NULL", (f'public."{name}"',))[0][0]


def on_server(module: str, srv: dict, check: bool = False, **args):
    """Run pgdock.postgres.<module> against the test server's container."""
    return run_module(module, dict(container=srv["name"], **args), check=check)
