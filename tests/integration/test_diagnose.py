"""pgdock.postgres.diagnose on real containers: every cause it names is produced for real (a client
on the default bridge, on another network, a wrong port, a wrong password, no pg_hba.conf entry,
a missing database, too many clients, a stopped server...) and each answer carries its evidence and
fix. Nothing is changed and no helper is left behind."""

from __future__ import annotations

import psycopg2
import pytest
from psycopg2 import sql as pgsql

from ansible_runner import run_module
from pgclient import sql

APP_PASSWORD = "App-pw-'$(x)`1"


@pytest.fixture
def stand(docker_client, pg_image, unique, cleanup):
    """stand(network) -> a running client container (sleeping) on `network`, or on the default bridge."""
    def _start(network: str | None) -> str:
        name = unique("client") + f"-{len(cleanup['containers'])}"
        cleanup["containers"].append(name)
        docker_client.containers.run(pg_image(18), entrypoint=["sleep", "600"], name=name, detach=True,
                                     network=network or "bridge", user="999:999")
        return name
    return _start


@pytest.fixture
def served(pg_server):
    """A server with role app (password APP_PASSWORD), NOLOGIN role nologin and database appdb."""
    srv = pg_server(18)
    for statement in (pgsql.SQL("CREATE ROLE app LOGIN PASSWORD {}").format(pgsql.Literal(APP_PASSWORD)),
                      pgsql.SQL("CREATE ROLE nologin NOLOGIN PASSWORD 'x'"), pgsql.SQL("CREATE DATABASE appdb")):
        sql(srv["port"], srv["password"], statement)
    return srv


def diagnose(srv: dict, **args):
    result = run_module("diagnose", dict(server=srv["name"], user="app", **args))
    assert not result.failed and not result.changed, result
    assert APP_PASSWORD not in str(result)
    return result


def helpers_left(docker_client) -> list:
    return [c.name for c in docker_client.containers.list(all=True, filters={"label": "org.pgdock.helper"})
            if c.labels.get("org.pgdock.helper", "").startswith("probing")]


def test_ok_and_the_network_causes(served, stand, docker_client, cleanup, unique):
    srv = served
    on_net = stand(srv["network"])
    ok = diagnose(srv, client=on_net, host="primary", password=APP_PASSWORD, database="appdb")
    assert ok["reachable"] and ok["cause"] == "ok" and ok["evidence"]["server_version"].startswith("18"), ok
    assert diagnose(srv, network=srv["network"], password=APP_PASSWORD)["cause"] == "ok"
    checked = run_module("diagnose", dict(server=srv["name"], user="app", network=srv["network"]), check=True)
    assert checked["cause"] == "password_missing" and not checked.changed, checked

    bridged = diagnose(srv, client=stand(None), host="primary", password=APP_PASSWORD)
    assert bridged["cause"] == "name_not_resolved" and not bridged["reachable"], bridged
    assert bridged["evidence"]["client_networks"] == ["bridge"]
    assert "default bridge" in bridged["message"] and srv["network"] in bridged["fix"]
    assert "pgdock.postgres.network" in bridged["fix"]

    other_net = unique("othernet")
    docker_client.networks.create(other_net)
    cleanup["networks"].append(other_net)
    apart = diagnose(srv, client=stand(other_net), password=APP_PASSWORD)
    assert apart["cause"] == "name_not_resolved" and "share no network" in apart["message"], apart
    assert apart["evidence"]["client_networks"] == [other_net] and apart["evidence"]["server_networks"] == [srv["network"]]

    misnamed = diagnose(srv, client=on_net, host="db-that-is-not", password=APP_PASSWORD)
    assert misnamed["cause"] == "name_not_resolved" and "primary" in misnamed["evidence"]["server_names"], misnamed
    assert "alias 'db-that-is-not'" in misnamed["fix"]

    docker_client.containers.get(srv["name"]).stop(timeout=30)
    down = diagnose(srv, client=on_net, host="primary")
    assert down["cause"] == "server_down" and "state: started" in down["fix"], down
    assert helpers_left(docker_client) == []


def test_refused_port_and_an_address_on_a_network_the_client_is_not_on(served, stand, docker_client, cleanup, unique):
    srv = served
    refused = diagnose(srv, client=stand(srv["network"]), host="primary", port=srv["port"], password=APP_PASSWORD)
    assert refused["cause"] == "connection_refused", refused
    assert "listens on port 5432 inside its container" in refused["fix"]

    other_net = unique("farnet")
    docker_client.networks.create(other_net)
    cleanup["networks"].append(other_net)
    address = docker_client.containers.get(srv["name"]).attrs["NetworkSettings"]["Networks"][srv["network"]]["IPAddress"]
    far = diagnose(srv, client=stand(other_net), host=address, password=APP_PASSWORD, connect_timeout=3)
    assert far["cause"] in ("timeout", "no_route"), far
    assert far["evidence"]["address_network"] == srv["network"] and srv["network"] in far["fix"]


@pytest.mark.parametrize("args, cause, sqlstate, evidence", [
    (dict(password="wrong"), "password_failed", "28P01", "matched_rule"),
    (dict(), "password_missing", None, None),
    (dict(user="nosuch", password="x"), "role_missing", "28P01", "server_detail"),
    (dict(user="nologin", password="x"), "login_not_allowed", "28000", None),
    (dict(password=APP_PASSWORD, database="nosuchdb"), "database_missing", "3D000", "databases"),
    (dict(password=APP_PASSWORD, ssl_mode="require"), "tls_unavailable", None, None),
])
def test_login_causes_with_their_evidence(served, stand, args, cause, sqlstate, evidence):
    srv = served
    args = dict(dict(client=stand(srv["network"]), host="primary"), **args)
    user = args.pop("user", "app")
    result = run_module("diagnose", dict(server=srv["name"], user=user, **args))
    assert not result.failed and result["cause"] == cause, result
    assert result["sqlstate"] == sqlstate and result["fix"]
    if evidence:
        assert result["evidence"].get(evidence), result
    if cause == "database_missing":
        assert "appdb" in result["evidence"]["databases"]
    if cause == "password_failed":
        assert result["evidence"]["matched_rule"]["line"] > 0 and "scram-sha-256" in result["evidence"]["matched_rule"]["rule"]
    if cause == "login_not_allowed":
        assert "login: true" in result["fix"]


def test_no_pg_hba_entry_names_the_rule_to_add(served, stand):
    srv = served
    rules = [dict(type="local", database=["all"], user=["all"], method="trust"),
             dict(type="host", database=["all"], user=[srv["superuser"]], address="all", method="scram-sha-256")]
    applied = run_module("hba", dict(container=srv["name"], rules=rules))
    assert applied.changed and not applied.failed, applied
    client = stand(srv["network"])
    result = diagnose(srv, client=client, host="primary", password=APP_PASSWORD, database="appdb")
    assert result["cause"] == "no_hba_entry" and result["sqlstate"] == "28000", result
    address = result["evidence"]["client_address"]
    assert f"address: {address}/32" in result["fix"] and "pgdock.postgres.hba" in result["fix"]
    assert any(rule.startswith("2 host") or " host " in f" {rule} " for rule in result["evidence"]["hba_rules"])


def test_too_many_clients_shows_who_holds_the_slots(pg_server, stand):
    srv = pg_server(18, settings={"max_connections": "5", "superuser_reserved_connections": "2",
                                  "reserved_connections": "0"})
    sql(srv["port"], srv["password"], pgsql.SQL("CREATE ROLE app LOGIN PASSWORD {}").format(pgsql.Literal(APP_PASSWORD)))
    held = []
    try:
        for _attempt in range(10):
            try:
                held.append(psycopg2.connect(host="127.0.0.1", port=srv["port"], user="app", password=APP_PASSWORD,
                                             dbname="postgres", application_name="slot-holder", connect_timeout=5))
            except psycopg2.OperationalError:
                break
        assert 1 <= len(held) <= 3, len(held)
        result = diagnose(srv, client=stand(srv["network"]), host="primary", password=APP_PASSWORD)
        assert result["cause"] == "too_many_clients" and result["sqlstate"] == "53300", result
        assert result["evidence"]["max_connections"] == 5
        holders = [c for c in result["evidence"]["connections"] if c["application"] == "slot-holder"]
        assert holders and holders[0]["user"] == "app" and holders[0]["count"] == len(held)
        assert "pgdock.postgres.pooler" in result["fix"]
    finally:
        for conn in held:
            conn.close()


def test_bad_input_is_refused_clearly(served):
    srv = served
    both = run_module("diagnose", dict(server=srv["name"], user="app", client="a", network="b"))
    assert both.failed and "mutually exclusive" in both["msg"]
    neither = run_module("diagnose", dict(server=srv["name"], user="app"))
    assert neither.failed and "one of the following is required: client, network" in neither["msg"]
    missing = run_module("diagnose", dict(server="pgdt-no-such-server", user="app", network="bridge"))
    assert missing.failed and "server: no container named 'pgdt-no-such-server'" in missing["msg"]
    no_client = run_module("diagnose", dict(server=srv["name"], user="app", client="pgdt-no-such-client"))
    assert no_client.failed and "client: no container named" in no_client["msg"]
