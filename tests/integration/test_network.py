"""pgdock.postgres.network against the real Docker engine, run through the `ansible` command."""

from __future__ import annotations

import secrets

import docker
import pytest

from ansible_runner import run_module

MANAGED = {"org.pgdock.managed-by": "pgdock.postgres"}


@pytest.fixture
def net(unique, cleanup):
    """The name of a network this test may create (removed afterwards)."""
    name = unique("net")
    cleanup["networks"].append(name)
    return name


@pytest.fixture
def container(docker_client, pg_image, unique, cleanup):
    """container(suffix, start=True) -> name of a PostgreSQL container (removed afterwards)."""
    def _make(suffix: str, start: bool = True) -> str:
        name = unique(suffix)
        cleanup["containers"].append(name)
        kwargs = dict(name=name, environment={"POSTGRES_HOST_AUTH_METHOD": "trust"})
        if start:
            docker_client.containers.run(pg_image(15), detach=True, **kwargs)
        else:
            docker_client.containers.create(pg_image(15), **kwargs)
        return name
    return _make


def free_subnet() -> str:
    """A /24 unlikely to overlap networks of other tests running at the same time."""
    return f"10.213.{secrets.randbelow(250) + 1}.0/24"


def ensure(name: str, check: bool = False, diff: bool = False, **options):
    return run_module("network", {"name": name, **options}, check=check, diff=diff)


def ok(result):
    """The result, after asserting the module did not fail."""
    assert not result.failed, result.get("msg")
    return result


def aliases_on(docker_client, container: str, network: str) -> list[str]:
    """Aliases of a container's endpoint a user set (short id and name dropped)."""
    cont = docker_client.containers.get(container)
    endpoint = cont.attrs["NetworkSettings"]["Networks"][network]
    return sorted(a for a in endpoint.get("Aliases") or [] if a not in (cont.id[:12], cont.name))


def attached(docker_client, network: str) -> set[str]:
    """Names of the containers (running or stopped) attached to a network."""
    return {c.name for c in docker_client.containers.list(all=True, filters={"network": network})
            if network in c.attrs["NetworkSettings"]["Networks"]}


def test_create_then_nothing_to_do(docker_client, net):
    first = ok(ensure(net))
    assert first.changed and first["actions"] == [f"create network {net} (bridge)"]
    assert first["network"]["name"] == net and first["network"]["driver"] == "bridge"
    assert docker_client.networks.get(net).attrs["Labels"] == MANAGED

    second = ok(ensure(net))
    assert not second.changed and second["actions"] == []
    assert second["network"]["id"] == first["network"]["id"]


def test_check_mode_creates_nothing(docker_client, net):
    result = ok(ensure(net, check=True, internal=True))
    assert result.changed and result["actions"] and result["network"] == {}
    with pytest.raises(docker.errors.NotFound):
        docker_client.networks.get(net)


def test_diff_shows_before_and_after(net):
    subnet = free_subnet()
    created = ok(ensure(net, diff=True, subnet=subnet, labels={"tier": "db"}))
    assert created["diff"]["before"] == {}
    after = created["diff"]["after"]
    assert after["driver"] == "bridge" and after["internal"] is False and after["attachable"] is False
    assert after["ipam"]["subnet"] == subnet and after["labels"] == {**MANAGED, "tier": "db"}
    assert after["connected"] == {}

    again = ok(ensure(net, diff=True, subnet=subnet, labels={"tier": "db"}))
    assert not again.changed and again["diff"]["before"] == again["diff"]["after"]


def test_internal_network(docker_client, net):
    result = ok(ensure(net, internal=True))
    assert result["network"]["internal"] is True
    assert docker_client.networks.get(net).attrs["Internal"] is True
    assert not ok(ensure(net, internal=True)).changed


def test_subnet_gateway_and_ip_range(docker_client, net):
    subnet = free_subnet()
    prefix = subnet.rsplit(".", 1)[0]
    options = dict(subnet=subnet, gateway=f"{prefix}.254", ip_range=f"{prefix}.128/25")
    result = ok(ensure(net, **options))
    assert {k: result["network"][k] for k in ("subnet", "gateway", "ip_range")} == options
    pool = docker_client.networks.get(net).attrs["IPAM"]["Config"][0]
    assert (pool["Subnet"], pool["Gateway"], pool["IPRange"]) == (subnet, f"{prefix}.254", f"{prefix}.128/25")
    assert not ok(ensure(net, **options)).changed


def test_bad_subnet_fails_before_touching_anything(docker_client, net):
    result = ensure(net, subnet="10.213.0.9/24")
    assert result.failed and "did you mean 10.213.0.0/24" in result["msg"]
    with pytest.raises(docker.errors.NotFound):
        docker_client.networks.get(net)


def test_alias_resolves_from_another_container(docker_client, net, container):
    server, client = container("pg1"), container("pg2")
    result = ok(ensure(net, internal=True, connected=[
        {"container": server, "aliases": ["db", "db-primary"]}, {"container": client}]))
    assert result.changed
    server_ip = result["network"]["containers"][server]["ipv4_address"]
    assert server_ip and result["network"]["containers"][server]["aliases"] == ["db", "db-primary"]

    exit_code, output = docker_client.containers.get(client).exec_run(["getent", "hosts", "db-primary"])
    assert exit_code == 0, output
    assert output.decode().split()[0] == server_ip


def test_alias_change_reconnects_and_is_idempotent(docker_client, net, container):
    pg = container("pg")
    ok(ensure(net, connected=[{"container": pg, "aliases": ["db"]}]))
    assert not ok(ensure(net, connected=[{"container": pg, "aliases": ["db"]}])).changed

    checked = ok(ensure(net, check=True, connected=[{"container": pg, "aliases": ["primary"]}]))
    assert checked.changed and aliases_on(docker_client, pg, net) == ["db"]

    changed = ok(ensure(net, connected=[{"container": pg, "aliases": ["primary"]}]))
    assert changed["actions"] == [
        f"reconnect container {pg} to network {net} (aliases db -> aliases primary)"]
    assert aliases_on(docker_client, pg, net) == ["primary"]
    assert not ok(ensure(net, connected=[{"container": pg, "aliases": ["primary"]}])).changed


def test_exact_list_disconnects_the_others(docker_client, net, container):
    keep, other, stopped = container("keep"), container("other"), container("stopped", start=False)
    ok(ensure(net, connected=[{"container": keep}, {"container": other}, {"container": stopped}]))
    assert attached(docker_client, net) == {keep, other, stopped}

    result = ok(ensure(net, connected=[{"container": keep}]))
    assert sorted(result["actions"]) == sorted(
        [f"disconnect container {other} from network {net}", f"disconnect container {stopped} from network {net}"])
    assert attached(docker_client, net) == {keep}
    assert list(result["network"]["containers"]) == [keep]


def test_appends_keeps_the_others(docker_client, net, container):
    first, second = container("first"), container("second")
    ok(ensure(net, connected=[{"container": first, "aliases": ["a"]}]))
    result = ok(ensure(net, appends=True, connected=[{"container": second}]))
    assert result["actions"] == [f"connect container {second} to network {net} with no aliases"]
    assert attached(docker_client, net) == {first, second}
    assert aliases_on(docker_client, first, net) == ["a"]
    assert not ok(ensure(net, appends=True, connected=[{"container": second}])).changed


def test_omitting_connected_leaves_attachments_alone(docker_client, net, container):
    pg = container("pg")
    ok(ensure(net, connected=[{"container": pg}]))
    assert not ok(ensure(net)).changed
    assert attached(docker_client, net) == {pg}


@pytest.mark.parametrize("name", ["bridge", "host", "none"])
def test_predefined_networks_are_refused(name):
    result = ensure(name)
    assert result.failed and "predefined networks" in result["msg"] and "user-defined network" in result["msg"]


def test_unknown_container_is_named(docker_client, net, unique):
    missing = unique("missing")
    result = ensure(net, connected=[{"container": missing}])
    assert result.failed and f"container {missing!r} does not exist" in result["msg"]
    with pytest.raises(docker.errors.NotFound):
        docker_client.networks.get(net)


def test_absent_with_attached_containers_needs_force(docker_client, net, container):
    running, stopped = container("running"), container("stopped", start=False)
    ok(ensure(net, connected=[{"container": running}, {"container": stopped}]))

    refused = ensure(net, state="absent")
    assert refused.failed and running in refused["msg"] and stopped in refused["msg"]
    assert docker_client.networks.get(net)

    removed = ok(ensure(net, state="absent", force=True))
    assert removed.changed and removed["actions"][-1] == f"remove network {net}"
    with pytest.raises(docker.errors.NotFound):
        docker_client.networks.get(net)
    assert net not in docker_client.containers.get(stopped).attrs["NetworkSettings"]["Networks"]


def test_config_change_with_attached_containers_needs_force(docker_client, net, container):
    pg = container("pg")
    connected = [{"container": pg, "aliases": ["db"]}]
    old_id = ok(ensure(net, connected=connected))["network"]["id"]

    refused = ensure(net, internal=True)
    assert refused.failed and "must be recreated to change internal" in refused["msg"] and pg in refused["msg"]
    assert docker_client.networks.get(net).id == old_id

    checked = ok(ensure(net, internal=True, force=True, check=True))
    assert checked.changed and docker_client.networks.get(net).id == old_id

    forced = ok(ensure(net, internal=True, force=True))
    assert forced["network"]["id"] != old_id and forced["network"]["internal"] is True
    assert forced["network"]["containers"][pg]["aliases"] == ["db"]
    assert aliases_on(docker_client, pg, net) == ["db"]
    assert not ok(ensure(net, internal=True, connected=connected)).changed


def test_config_change_without_containers_recreates(docker_client, net):
    old_id = ok(ensure(net))["network"]["id"]
    result = ok(ensure(net, attachable=True))
    assert result.changed and result["network"]["id"] != old_id
    assert docker_client.networks.get(net).attrs["Attachable"] is True


def test_removing_a_missing_network_is_ok(net):
    result = ok(ensure(net, state="absent"))
    assert not result.changed and result["actions"] == [] and result["network"] == {}


def test_unmanaged_network_is_adopted_only_when_it_matches(docker_client, net):
    docker_client.networks.create(net, driver="bridge")
    adopted = ok(ensure(net, labels={}))
    assert not adopted.changed

    refused = ensure(net, internal=True, force=True)
    assert refused.failed and "not created by pgdock.postgres" in refused["msg"]

    kept = ensure(net, state="absent")
    assert kept.failed and "force: true" in kept["msg"]
    assert ok(ensure(net, state="absent", force=True)).changed


def test_overlay_needs_swarm(docker_client, net):
    if (docker_client.info().get("Swarm") or {}).get("LocalNodeState") == "active":
        pytest.skip("the engine is in swarm mode; this test checks the message given outside it")
    result = ensure(net, driver="overlay")
    assert result.failed and "swarm manager" in result["msg"] and "docker swarm init" in result["msg"]


def test_a_container_listed_twice_by_name_and_id_is_refused(docker_client, net, container):
    pg = container("pg", start=False)
    result = ensure(net, connected=[{"container": pg}, {"container": docker_client.containers.get(pg).id}])
    assert result.failed and f"{pg!r} is listed more than once" in result["msg"]
