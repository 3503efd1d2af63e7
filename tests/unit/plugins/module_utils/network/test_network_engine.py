"""Unit tests of the network engine's pure logic: option checks, IPAM normalisation, the comparison
of desired and actual config, and the planning of attachments."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import MANAGED_LABEL, MANAGED_VALUE
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import attachment_plan, user_aliases
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.network.engine import (
    actual_config,
    config_differences,
    desired_config,
    ipv4_pool,
    normalise_ipam,
    predicted_config,
    state_view,
    validate_options,
    wanted_attachments,
)

MANAGED = {MANAGED_LABEL: MANAGED_VALUE}


def params(**overrides) -> dict:
    """Module params as AnsibleModule fills them in, with defaults."""
    p = dict(name="pg-net", state="present", driver="bridge", internal=False, attachable=False,
             subnet=None, gateway=None, ip_range=None, labels=None, connected=None, appends=False, force=False)
    p.update(overrides)
    return p


def inspect(**overrides) -> dict:
    """A `docker network inspect` answer of a managed bridge network (Docker 20.10 shape)."""
    attrs = {
        "Name": "pg-net", "Id": "f" * 64, "Driver": "bridge", "Internal": False, "Attachable": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]},
        "Labels": dict(MANAGED),
    }
    attrs.update(overrides)
    return attrs


# ---------------------------------------------------------------- validate_options

@pytest.mark.parametrize("name", ["bridge", "host", "none", "default"])
def test_predefined_networks_are_refused_in_both_states(name):
    for state in ("present", "absent"):
        with pytest.raises(PgdockError, match="predefined networks.*user-defined network"):
            validate_options(params(name=name, state=state))


@pytest.mark.parametrize("name", ["-net", "net work", "ne/t", "_net", ""])
def test_bad_names_are_refused(name):
    with pytest.raises(PgdockError, match="not a valid network name"):
        validate_options(params(name=name))


@pytest.mark.parametrize("name", ["pg", "pg-backend", "pg_net.1", "0net", "bridge2"])
def test_good_names_pass(name):
    validate_options(params(name=name))


def test_a_bad_alias_names_it_and_its_container():
    with pytest.raises(PgdockError, match="alias 'db primary' of container 'pg1'"):
        validate_options(params(connected=[{"container": "pg1", "aliases": ["db primary"]}]))


def test_overlay_with_containers_needs_attachable():
    connected = [{"container": "pg1", "aliases": []}]
    with pytest.raises(PgdockError, match="attachable: true"):
        validate_options(params(driver="overlay", connected=connected))
    validate_options(params(driver="overlay", attachable=True, connected=connected))


def test_absent_ignores_the_options_of_present():
    validate_options(params(state="absent", subnet="not-a-subnet"))


# ---------------------------------------------------------------- IPAM normalisation

def test_no_subnet_leaves_addressing_to_docker():
    assert normalise_ipam(None, None, None) == {"subnet": None, "gateway": None, "ip_range": None}


def test_full_addressing_is_canonicalised():
    assert normalise_ipam("172.28.0.0/24", "172.28.0.254", "172.28.0.128/25") == {
        "subnet": "172.28.0.0/24", "gateway": "172.28.0.254", "ip_range": "172.28.0.128/25"}


@pytest.mark.parametrize("subnet, gateway, ip_range, message", [
    (None, "172.28.0.1", None, "need subnet"),
    (None, None, "172.28.0.0/25", "need subnet"),
    ("172.28.0.5/24", None, None, "did you mean 172.28.0.0/24"),
    ("nonsense", None, None, "not an IPv4 network in CIDR form"),
    ("fd00::/64", None, None, "not an IPv4 network"),
    ("172.28.0.0/24", "172.29.0.1", None, "not a host address of subnet 172.28.0.0/24"),
    ("172.28.0.0/24", "172.28.0.0", None, "not a host address"),
    ("172.28.0.0/24", "172.28.0.255", None, "not a host address"),
    ("172.28.0.0/24", "gw", None, "not an IPv4 address"),
    ("172.28.0.0/24", None, "172.28.1.0/25", "not inside subnet"),
    ("172.28.0.0/24", None, "172.28.0.0/23", "not inside subnet"),
])
def test_bad_addressing_is_refused(subnet, gateway, ip_range, message):
    with pytest.raises(PgdockError, match=message):
        normalise_ipam(subnet, gateway, ip_range)


def test_ipv4_pool_skips_ipv6_and_canonicalises():
    ipam = {"Config": [{"Subnet": "fd00::/64", "Gateway": "fd00::1"},
                       {"Subnet": "10.250.0.5/24", "Gateway": "10.250.0.1/24", "IPRange": "10.250.0.130/25"}]}
    assert ipv4_pool(ipam) == {"subnet": "10.250.0.0/24", "gateway": "10.250.0.1", "ip_range": "10.250.0.128/25"}


def test_ipv4_pool_of_a_network_without_ipam_is_empty():
    assert ipv4_pool({"Config": None}) == {"subnet": None, "gateway": None, "ip_range": None}
    assert ipv4_pool({}) == {"subnet": None, "gateway": None, "ip_range": None}


# ---------------------------------------------------------------- desired vs actual

def test_a_matching_network_has_no_differences():
    assert config_differences(desired_config(params()), actual_config(inspect())) == []


def test_unset_addressing_and_labels_are_not_compared():
    actual = actual_config(inspect(Labels={**MANAGED, "extra": "1"}))
    assert config_differences(desired_config(params()), actual) == []


def test_each_recreating_field_is_reported_in_order():
    desired = desired_config(params(driver="overlay", internal=True, attachable=True, subnet="10.9.0.0/24",
                                    gateway="10.9.0.1", ip_range="10.9.0.0/25", labels={"tier": "db"}))
    assert config_differences(desired, actual_config(inspect())) == [
        "driver", "internal", "attachable", "subnet", "gateway", "ip_range", "labels"]


def test_labels_compare_exactly_with_the_managed_label_and_string_values():
    actual = actual_config(inspect(Labels={**MANAGED, "tier": "db", "replicas": "2"}))
    assert config_differences(desired_config(params(labels={"tier": "db", "replicas": 2})), actual) == []
    assert config_differences(desired_config(params(labels={"tier": "db"})), actual) == ["labels"]


def test_an_adopted_network_is_compared_without_the_managed_label():
    actual = actual_config(inspect(Labels={"tier": "db"}))
    assert config_differences(desired_config(params(labels={"tier": "db"}), managed=False), actual) == []
    assert config_differences(desired_config(params(labels={"tier": "db"})), actual) == ["labels"]


def test_subnet_with_host_bits_stored_by_docker_matches_its_network():
    actual = actual_config(inspect(IPAM={"Config": [{"Subnet": "10.9.0.7/24"}]}))
    assert config_differences(desired_config(params(subnet="10.9.0.0/24")), actual) == []


def test_predicted_config_keeps_what_the_options_leave_open():
    actual = actual_config(inspect(Labels={**MANAGED, "a": "1"}))
    assert predicted_config(params(internal=True), actual, recreate=False) == {
        **actual, "internal": True}


def test_predicted_config_of_a_new_network_is_labelled_and_leaves_addressing_open():
    assert predicted_config(params(labels={"tier": "db"}), None, recreate=True) == {
        "driver": "bridge", "internal": False, "attachable": False, "subnet": None, "gateway": None,
        "ip_range": None, "labels": {**MANAGED, "tier": "db"}}


def test_state_view_groups_addressing_and_sorts_connections():
    view = state_view(actual_config(inspect()), {"b": ["y", "x"], "a": []})
    assert view["ipam"] == {"subnet": "172.18.0.0/16", "gateway": "172.18.0.1", "ip_range": None}
    assert list(view["connected"]) == ["a", "b"] and view["connected"]["b"] == ["x", "y"]
    assert state_view(None, {}) == {}


# ---------------------------------------------------------------- aliases and attachments

def test_user_aliases_drop_the_short_id_and_the_name():
    cid = "c3b58c6ffc65c8328d52f4825a8166b1abfeee70b3539b813874637bf5c5b2d3"
    assert user_aliases(["db", "c3b58c6ffc65", "pg1", "db"], "/pg1", cid) == ["db"]
    assert user_aliases(None, "pg1", cid) == []


def test_exact_list_replaces_what_is_attached():
    assert wanted_attachments({"a": ["x"]}, {"a": [], "b": []}, appends=False) == {"a": ["x"]}


def test_appends_keeps_others_and_updates_the_listed():
    assert wanted_attachments({"a": ["x"]}, {"a": [], "b": ["y"]}, appends=True) == {"a": ["x"], "b": ["y"]}


def test_no_connected_option_leaves_attachments_alone():
    attached = {"a": ["x"]}
    assert wanted_attachments(None, attached, appends=False) == attached


def test_plan_connects_reconnects_on_alias_change_and_disconnects():
    plan = attachment_plan({"a": ["x"], "b": ["y", "z"], "c": []}, {"b": ["z", "y"], "c": ["old"], "d": []})
    assert plan == {"disconnect": ["d"], "reconnect": ["c"], "connect": ["a"]}


def test_plan_of_identical_attachments_is_empty():
    attached = {"a": ["x"], "b": []}
    assert attachment_plan(dict(attached), attached) == {"disconnect": [], "reconnect": [], "connect": []}
