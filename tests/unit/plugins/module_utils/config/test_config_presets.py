"""Unit tests of parameter values checked against pg_settings rows, and of the presets."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.config.engine import display, plan_changes
from ansible_collections.pgdock.postgres.plugins.module_utils.config.presets import (
    ParamSpec,
    check_name,
    normalise,
    preset_settings,
    same_value,
    setting_text,
    unit_scale,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

# rows as pg_settings gives them (PostgreSQL 18)
ROWS = [
    dict(name="shared_buffers", setting="16384", unit="8kB", vartype="integer", min_val="16",
         max_val="1073741823", context="postmaster", source="configuration file"),
    dict(name="work_mem", setting="4096", unit="kB", vartype="integer", min_val="64", max_val="2147483647",
         context="user", source="default"),
    dict(name="log_min_duration_statement", setting="-1", unit="ms", vartype="integer", min_val="-1",
         max_val="2147483647", context="superuser", source="default"),
    dict(name="checkpoint_timeout", setting="300", unit="s", vartype="integer", min_val="30", max_val="86400",
         context="sighup", source="default"),
    dict(name="checkpoint_completion_target", setting="0.9", unit=None, vartype="real", min_val="0",
         max_val="1", context="sighup", source="default"),
    dict(name="log_checkpoints", setting="on", unit=None, vartype="bool", context="sighup", source="default"),
    dict(name="wal_level", setting="replica", unit=None, vartype="enum",
         enumvals=["minimal", "replica", "logical"], context="postmaster", source="default"),
    dict(name="application_name", setting="", unit=None, vartype="string", context="user", source="default"),
    dict(name="max_connections", setting="100", unit=None, vartype="integer", min_val="1",
         max_val="262143", context="postmaster", source="command line"),
    dict(name="block_size", setting="8192", unit=None, vartype="integer", min_val="8192", max_val="8192",
         context="internal", source="default"),
]
SERVER = {row["name"]: (ParamSpec.from_row(row), row) for row in ROWS}


def spec(name: str) -> ParamSpec:
    return SERVER[name][0]


@pytest.mark.parametrize("name, value, expected", [
    ("shared_buffers", "128MB", 16384), ("shared_buffers", "1GB", 131072), ("shared_buffers", 16384, 16384),
    ("shared_buffers", "16384", 16384), ("work_mem", "64MB", 65536), ("work_mem", "1.5MB", 1536),
    ("log_min_duration_statement", "1s", 1000), ("log_min_duration_statement", -1, -1),
    ("checkpoint_timeout", "15min", 900), ("checkpoint_timeout", "1h", 3600),
    ("checkpoint_completion_target", "0.5", 0.5), ("checkpoint_completion_target", 1, 1.0),
    ("log_checkpoints", True, "on"), ("log_checkpoints", "off", "off"), ("log_checkpoints", "Yes", "on"),
    ("wal_level", "LOGICAL", "logical"), ("application_name", "x y", "x y"),
])
def test_values_are_normalised_in_the_parameters_unit(name, value, expected):
    assert normalise(spec(name), value) == expected


@pytest.mark.parametrize("name, value, message", [
    ("shared_buffers", "lots", "is not a number .a size such as 512MB"),
    ("shared_buffers", "1min", "unit 'min' is not allowed"),
    ("work_mem", "32kB", r"outside the allowed range 64 \.\. 2147483647 kB"),
    ("checkpoint_timeout", "10s", "outside the allowed range 30"),
    ("checkpoint_completion_target", "1.5", "outside the allowed range 0 .. 1"),
    ("checkpoint_completion_target", "0.5MB", "takes no unit"),
    ("log_checkpoints", "maybe", "is not a boolean"),
    ("wal_level", "archive", "is not one of minimal, replica, logical"),
    ("max_connections", "10.5", "is not an integer"),
    ("work_mem", True, "not a boolean"),
])
def test_bad_values_say_what_is_wrong(name, value, message):
    with pytest.raises(PgdockError, match=message):
        normalise(spec(name), value)


def test_same_value_text_and_display():
    assert same_value(spec("shared_buffers"), "16384", "128MB")
    assert not same_value(spec("shared_buffers"), "16384", "256MB")
    assert same_value(spec("checkpoint_completion_target"), "0.9", 0.9000000000001)
    assert setting_text(spec("log_checkpoints"), False) == "off"
    assert setting_text(spec("wal_level"), "Logical") == "logical"
    assert setting_text(spec("shared_buffers"), "256MB") == "256MB"
    assert display(spec("shared_buffers"), "16384") == "128MB"
    assert display(spec("checkpoint_timeout"), "900") == "15min"
    assert display(spec("log_min_duration_statement"), "-1") == "-1"
    assert unit_scale("8kB") == ("memory", 8192) and unit_scale("min") == ("time", 60000)


def test_names():
    assert check_name("Work_Mem") == "work_mem"
    assert check_name("pg_stat_statements.track") == "pg_stat_statements.track"
    with pytest.raises(PgdockError):
        check_name("work mem; drop")


def test_plan_writes_only_what_differs():
    configured = {"work_mem": "64MB", "log_checkpoints": "off"}
    plan = plan_changes({"work_mem": "65536kB", "log_checkpoints": True, "shared_buffers": "128MB",
                         "checkpoint_timeout": "15min", "pg_stat_statements.track": "all"},
                        ["log_min_duration_statement", "log_checkpoints_x"], SERVER, configured)
    assert sorted(plan["set"]) == ["checkpoint_timeout", "log_checkpoints", "pg_stat_statements.track"]
    assert plan["set"]["checkpoint_timeout"][1:] == ("15min", "5min")
    assert plan["set"]["log_checkpoints"][1:] == ("on", "off")
    assert plan["reset"] == {}


def test_plan_collects_every_problem_before_writing():
    with pytest.raises(PgdockError) as err:
        plan_changes({"shared_bufers": "1GB", "work_mem": "1 parsec", "block_size": 4096,
                      "max_connections": 300}, ["work_mem"], SERVER, {})
    message = str(err.value)
    assert "unknown parameter 'shared_bufers'" in message and "did you mean shared_buffers" in message
    assert "work_mem: unit 'parsec' is not allowed" in message
    assert "block_size is fixed" in message
    assert "max_connections is set on the server's command line" in message
    assert "reset: work_mem is also in settings" in message
    assert message.endswith("Nothing was written.")


def test_plan_leaves_command_line_values_of_a_preset_alone():
    plan = plan_changes({"max_connections": 300}, [], SERVER, {}, skip_command_line={"max_connections"})
    assert plan["skipped"] == ["max_connections"] and plan["set"] == {}
    # the same value as on the command line is simply unchanged
    assert plan_changes({"max_connections": 100}, [], SERVER, {})["set"] == {}


def test_reset_only_what_is_configured():
    plan = plan_changes({}, ["work_mem", "wal_level"], SERVER, {"work_mem": "64MB"})
    assert plan["reset"] == {"work_mem": "64MB"}


def test_production_preset_for_one_gigabyte():
    settings = preset_settings("production", 1024 ** 3, 100)
    assert settings["shared_buffers"] == "256MB"
    assert settings["effective_cache_size"] == "768MB"
    assert settings["maintenance_work_mem"] == "64MB"
    assert settings["work_mem"] == "4MB"
    assert settings["password_encryption"] == "scram-sha-256"
    assert "ssl" not in settings


def test_production_preset_scales_and_caps():
    settings = preset_settings("production", 64 * 1024 ** 3, 50)
    assert settings["shared_buffers"] == "16384MB"
    assert settings["maintenance_work_mem"] == "2048MB"
    assert settings["work_mem"] == "327MB"
    assert settings["max_wal_size"] == "8GB"
    with pytest.raises(PgdockError, match="too little"):
        preset_settings("production", 32 * 1024 ** 2)
    with pytest.raises(PgdockError, match="not one of"):
        preset_settings("olap", 1024 ** 3)
