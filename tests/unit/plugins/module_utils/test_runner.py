"""runner: the action log (recorded, run unless in check mode, guarded), the diff, parameters from a spec."""

from __future__ import annotations

import contextlib
import importlib
import pathlib

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog, combine_specs, spec_params, with_diff


def test_an_action_is_recorded_and_run():
    log, done = ActionLog(False), []
    assert log.do("add one", done.append, 1) is None and done == [1]
    assert log.do("answer", lambda: 42) == 42
    assert log.changed and log.actions == ["add one", "answer"]


def test_check_mode_records_without_running():
    log, done = ActionLog(True), []
    assert log.do("add one", done.append, 1) is None
    assert done == [] and log.actions == ["add one"] and log.result(extra=1) == {
        "changed": True, "actions": ["add one"], "extra": 1}


def test_the_guard_wraps_each_action_with_its_description():
    seen = []

    @contextlib.contextmanager
    def guard(description):
        seen.append(description)
        try:
            yield
        except ZeroDivisionError:
            raise PgdockError(f"{description}: failed") from None
    log = ActionLog(False, guard=guard)
    with pytest.raises(PgdockError, match="^divide: failed$"):
        log.do("divide", lambda: 1 / 0)
    assert seen == ["divide"] and log.actions == ["divide"]


def test_reported_actions_keep_their_order_with_a_prefix():
    log = ActionLog(False)
    assert not log.changed and log.result() == {"changed": False, "actions": []}
    log.add("first")
    log.extend(["a", "b"], "container: ")
    assert log.actions == ["first", "container: a", "container: b"]


def test_the_diff_is_there_only_when_asked_with_its_header():
    assert with_diff({"changed": True}, False, "a", "b") == {"changed": True}
    assert with_diff({}, True, "a", "b") == {"diff": {"before": "a", "after": "b"}}
    assert with_diff({}, True, "a", "b", "/x/pg_hba.conf")["diff"] == {
        "before": "a", "after": "b", "before_header": "/x/pg_hba.conf", "after_header": "/x/pg_hba.conf"}


SPEC = dict(name=dict(type="str", required=True), port=dict(type="int", default=5432),
            healthcheck=dict(type="dict", default={}, options=dict(interval=dict(type="int", default=10),
                                                                   retries=dict(type="int", default=5))))


def test_parameters_take_the_defaults_of_the_spec_and_its_suboptions():
    assert spec_params(SPEC, {"name": "x", "healthcheck": {"retries": 2}}, "demo") == {
        "name": "x", "port": 5432, "healthcheck": {"interval": 10, "retries": 2}}


def test_an_option_the_spec_lacks_is_an_error_that_names_it():
    with pytest.raises(PgdockError, match=r"^unknown demo options: \['prot'\]$"):
        spec_params(SPEC, {"name": "x", "prot": 1}, "demo")


def test_combined_specs_drop_an_earlier_alias_a_later_spec_takes():
    connection = dict(login_user=dict(type="str", aliases=["login"]), login_host=dict(type="str", aliases=["host"]),
                      ssl_rootcert=dict(type="path", aliases=["ca_cert"]))
    own = dict(login=dict(type="bool"), ownca_cert=dict(type="str", aliases=["ca_cert"]), login_host=dict(type="int"))
    spec = combine_specs(connection, own)
    assert spec["login_user"] == {"type": "str"} and spec["ssl_rootcert"] == {"type": "path"}
    assert spec["login_host"] == {"type": "int"} and spec["login"] == {"type": "bool"}
    assert connection["login_user"]["aliases"] == ["login"]  # the shared spec is left as it was


MODULE_UTILS = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "module_utils"


def module_specs() -> list:
    """(feature, name, spec) of every ARGUMENT_SPEC (or <MODULE>_ARGUMENT_SPEC) in the options files."""
    found = []
    for path in sorted(MODULE_UTILS.glob("*/options.py")):
        options = importlib.import_module(f"ansible_collections.pgdock.postgres.plugins.module_utils.{path.parent.name}.options")
        found += [(path.parent.name, name, getattr(options, name)) for name in dir(options) if name.endswith("ARGUMENT_SPEC")]
    return found


@pytest.mark.parametrize("feature, name, spec", module_specs(), ids=lambda value: value if isinstance(value, str) else "")
def test_no_name_or_alias_of_a_module_is_taken_twice(feature, name, spec):
    names = list(spec) + [alias for entry in spec.values() for alias in entry.get("aliases", ())]
    assert sorted(n for n in set(names) if names.count(n) > 1) == [], (feature, name)
