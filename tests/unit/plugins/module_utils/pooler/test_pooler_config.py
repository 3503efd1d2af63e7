"""Unit tests of the pooler's configuration: names, [databases] lines, the [pgbouncer] settings, the ini
and auth file round trips, which changes need a restart, and repointing the databases at a new host."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import POOLER_CONFIG_MOUNT, POOLER_PORT
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.config import (
    ADMIN_CERT_NAME,
    ADMIN_KEY_NAME,
    ADMIN_USER,
    CA_NAME,
    OWNED_SETTINGS,
    RESTART_SETTINGS,
    USERLIST_NAME,
    admin_ssl,
    check_name,
    database_lines,
    needs_restart,
    parse_ini,
    parse_userlist,
    pgbouncer_settings,
    pointed_host,
    render_ini,
    render_userlist,
    repointed_ini,
)


def options(**overrides) -> dict:
    """The pooler module's options as its argument spec defaults them."""
    values = dict(pool_mode="transaction", max_client_conn=200, default_pool_size=20, reserve_pool_size=5,
                  reserve_pool_timeout=3, query_wait_timeout=120, server_connect_timeout=15,
                  server_tls_sslmode="prefer", settings={})
    values.update(overrides)
    return values


def sample_ini(host: str = "pg-a", **overrides) -> str:
    databases = [{"name": "app"}, {"name": "reports", "dbname": "app", "pool_size": 5, "pool_mode": "session"}]
    return render_ini(databases, host, pgbouncer_settings(options(**overrides), has_ca=False))


# check_name ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["app", "a", "_private", "0db", "my-db.v2", "A_b-c.d", "x" * 63])
def test_check_name_accepts(value):
    check_name(value, "users")


@pytest.mark.parametrize("value", [
    "", "-app", ".app", "x" * 64, "my db", 'a"b', "a=b", "a;b", "a#b", "é", "app\n", "a\nb", "[pgbouncer]",
])
def test_check_name_refuses(value):
    with pytest.raises(PgdockError) as err:
        check_name(value, "databases.name")
    assert "databases.name" in str(err.value)


def test_check_name_refuses_none():
    with pytest.raises(PgdockError):
        check_name(None, "users")  # type: ignore[arg-type]


# database_lines ------------------------------------------------------------------------------------

def test_database_lines_fallback_when_none_listed():
    assert database_lines([], "pg-a") == ["* = host=pg-a port=5432"]
    assert database_lines(None, "pg-a") == ["* = host=pg-a port=5432"]  # type: ignore[arg-type]


def test_database_lines_entries():
    lines = database_lines([
        {"name": "app"},
        {"name": "reports", "dbname": "app", "pool_size": "7", "pool_mode": "session"},
        {"name": "zero", "pool_size": 0},
        {"name": "blank", "dbname": "", "pool_size": None, "pool_mode": None},
    ], "primary")
    assert lines == [
        "app = host=primary port=5432 dbname=app",
        "reports = host=primary port=5432 dbname=app pool_size=7 pool_mode=session",
        "zero = host=primary port=5432 dbname=zero pool_size=0",
        "blank = host=primary port=5432 dbname=blank",
    ]


def test_database_lines_refuse_bad_name():
    with pytest.raises(PgdockError, match="databases.name"):
        database_lines([{"name": "app"}, {"name": "bad name"}], "primary")


# pgbouncer_settings ----------------------------------------------------------------------------------

def test_settings_defaults():
    values = pgbouncer_settings(options(), has_ca=False)
    assert values["listen_addr"] == "0.0.0.0"
    assert values["listen_port"] == POOLER_PORT
    assert values["unix_socket_dir"] == ""
    assert values["auth_type"] == "scram-sha-256"
    assert values["auth_file"] == f"{POOLER_CONFIG_MOUNT}/{USERLIST_NAME}"
    assert values["admin_users"] == ADMIN_USER
    assert values["pool_mode"] == "transaction"
    assert values["max_client_conn"] == 200
    assert values["default_pool_size"] == 20
    assert values["reserve_pool_size"] == 5
    assert values["reserve_pool_timeout"] == 3
    assert values["query_wait_timeout"] == 120
    assert values["server_connect_timeout"] == 15
    assert values["server_tls_sslmode"] == "prefer"
    assert "server_tls_ca_file" not in values


def test_settings_ca_adds_ca_file():
    values = pgbouncer_settings(options(server_tls_sslmode="verify-full"), has_ca=True)
    assert values["server_tls_ca_file"] == f"{POOLER_CONFIG_MOUNT}/{CA_NAME}"
    assert values["server_tls_sslmode"] == "verify-full"


@pytest.mark.parametrize("owned", sorted(OWNED_SETTINGS))
def test_settings_owned_refused(owned):
    with pytest.raises(PgdockError, match=owned):
        pgbouncer_settings(options(settings={owned: "x", "server_idle_timeout": 30}), has_ca=False)


def test_settings_owned_refused_all_named():
    with pytest.raises(PgdockError) as err:
        pgbouncer_settings(options(settings={"user": "x", "listen_port": 1, "logfile": "/tmp/x"}), has_ca=False)
    assert "listen_port, logfile, user" in str(err.value)


@pytest.mark.parametrize("mode", ["", "Session", "transactions", "pool", None])
def test_settings_bad_pool_mode_refused(mode):
    with pytest.raises(PgdockError, match="pool_mode"):
        pgbouncer_settings(options(pool_mode=mode), has_ca=False)


@pytest.mark.parametrize("mode", ["session", "transaction", "statement"])
def test_settings_pool_modes_accepted(mode):
    assert pgbouncer_settings(options(pool_mode=mode), has_ca=False)["pool_mode"] == mode


def test_settings_user_overrides_defaults_and_adds():
    values = pgbouncer_settings(options(settings={"server_login_retry": 5, "ignore_startup_parameters":
                                                  "extra_float_digits,search_path", "server_idle_timeout": 60,
                                                  "query_wait_timeout": 9}), has_ca=False)
    assert values["server_login_retry"] == 5
    assert values["ignore_startup_parameters"] == "extra_float_digits,search_path"
    assert values["server_idle_timeout"] == 60
    assert values["query_wait_timeout"] == 9
    # the user's entries come after the module's fixed ones
    assert list(values)[-1] == "server_idle_timeout"


def test_settings_none_means_no_extra():
    assert pgbouncer_settings(options(settings=None), has_ca=False) == pgbouncer_settings(options(), has_ca=False)


def test_settings_keys_made_strings():
    values = pgbouncer_settings(options(settings={1: "x"}), has_ca=False)
    assert values["1"] == "x"


# render_ini / parse_ini ----------------------------------------------------------------------------

def test_render_ini_layout():
    text = render_ini([{"name": "app"}], "pg-a", {"listen_port": 6432, "so_reuseport": True,
                                                  "unix_socket_dir": "", "disable_pqexec": False})
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == ["[databases]", "app = host=pg-a port=5432 dbname=app", "", "[pgbouncer]",
                         "listen_port = 6432", "so_reuseport = 1", "unix_socket_dir = ", "disable_pqexec = 0"]


def test_ini_round_trip():
    databases = [{"name": "app"}, {"name": "reports", "dbname": "app", "pool_size": 5, "pool_mode": "session"}]
    settings = pgbouncer_settings(options(settings={"server_reset_query": "DISCARD ALL", "log_connections": True,
                                                    "application_name_add_host": False}), has_ca=True)
    parsed = parse_ini(render_ini(databases, "pg-a", settings))
    assert parsed["databases"] == {
        "app": "host=pg-a port=5432 dbname=app",
        "reports": "host=pg-a port=5432 dbname=app pool_size=5 pool_mode=session",
    }
    expected = {k: str(int(v) if isinstance(v, bool) else v) for k, v in settings.items()}
    assert parsed["pgbouncer"] == expected
    assert list(parsed["pgbouncer"]) == list(settings)


def test_ini_round_trip_fallback_database():
    parsed = parse_ini(render_ini([], "primary", {"pool_mode": "session"}))
    assert parsed == {"databases": {"*": "host=primary port=5432"}, "pgbouncer": {"pool_mode": "session"}}


def test_parse_ini_empty_and_none():
    assert parse_ini(None) == {"databases": {}, "pgbouncer": {}}
    assert parse_ini("") == {"databases": {}, "pgbouncer": {}}


def test_parse_ini_skips_comments_and_lines_outside_sections():
    text = ("orphan = 1\n; comment\n# comment\n[databases]\n  app = host=x  \n# x = y\n[pgbouncer]\n"
            "no equal sign\nkey=value=with=equals\n[users]\nalice = pool_mode=session\n")
    parsed = parse_ini(text)
    assert parsed["databases"] == {"app": "host=x"}
    assert parsed["pgbouncer"] == {"key": "value=with=equals"}
    assert parsed["users"] == {"alice": "pool_mode=session"}


# needs_restart -------------------------------------------------------------------------------------

def test_needs_restart_listen_port():
    old = render_ini([], "pg-a", {"listen_port": 6432, "query_wait_timeout": 120})
    new = render_ini([], "pg-a", {"listen_port": 6433, "query_wait_timeout": 120})
    assert needs_restart(old, new) == ["listen_port"]


def test_needs_restart_reloadable_change_is_none():
    assert needs_restart(sample_ini(), sample_ini(query_wait_timeout=30)) == []
    assert needs_restart(sample_ini(), sample_ini(pool_mode="session", max_client_conn=500)) == []


def test_needs_restart_database_change_is_none():
    assert needs_restart(sample_ini("pg-a"), sample_ini("pg-b")) == []


def test_needs_restart_same_is_none():
    assert needs_restart(sample_ini(), sample_ini()) == []


def test_needs_restart_several_sorted():
    old = render_ini([], "h", {"listen_addr": "0.0.0.0", "listen_port": 6432})
    new = render_ini([], "h", {"listen_addr": "*", "listen_port": 6432, "so_reuseport": 1, "pidfile": "/x"})
    assert needs_restart(old, new) == ["listen_addr", "pidfile", "so_reuseport"]


def test_needs_restart_no_old_file():
    new = sample_ini()
    assert needs_restart(None, new) == sorted(k for k in RESTART_SETTINGS if k in parse_ini(new)["pgbouncer"])
    assert "listen_port" in needs_restart(None, new)


# pointed_host --------------------------------------------------------------------------------------

def test_pointed_host():
    assert pointed_host(sample_ini("pg-a")) == "pg-a"
    assert pointed_host(render_ini([], "standby-1.net", {})) == "standby-1.net"


def test_pointed_host_none():
    assert pointed_host(None) is None
    assert pointed_host("") is None
    assert pointed_host("[databases]\napp = port=5432 dbname=app\n[pgbouncer]\nhost=x\n") is None


def test_pointed_host_ignores_lookalike_keys():
    assert pointed_host("[databases]\napp = dbname=app xhost=no host=yes\n") == "yes"


# repointed_ini -------------------------------------------------------------------------------------

def test_repointed_ini_replaces_every_database_host():
    text = sample_ini("pg-a")
    moved = repointed_ini(text, "pg-b")
    parsed, before = parse_ini(moved), parse_ini(text)
    assert pointed_host(moved) == "pg-b"
    assert parsed["databases"] == {name: value.replace("host=pg-a", "host=pg-b")
                                   for name, value in before["databases"].items()}
    assert all("host=pg-b" in value and "pg-a" not in value for value in parsed["databases"].values())
    assert parsed["pgbouncer"] == before["pgbouncer"]


def test_repointed_ini_fallback_entry():
    moved = repointed_ini(render_ini([], "pg-a", {"pool_mode": "session"}), "pg-b")
    assert parse_ini(moved)["databases"] == {"*": "host=pg-b port=5432"}


def test_repointed_ini_keeps_pgbouncer_section_and_comments():
    text = (
        "# Managed by pgdock.postgres.pooler: changes here are overwritten.\n"
        "[databases]\n"
        "; a comment with host=pg-a in it\n"
        "# another host=pg-a\n"
        "app = host=pg-a port=5432 dbname=app\n"
        "  reports =   host=pg-a   port=5432 dbname=app pool_mode=session\n"
        "\n"
        "[pgbouncer]\n"
        "listen_addr = 0.0.0.0\n"
        "# host=pg-a here is a comment of the pgbouncer section\n"
        "server_reset_query = host=pg-a\n"
    )
    moved = repointed_ini(text, "pg-b")
    assert moved.splitlines() == [
        "# Managed by pgdock.postgres.pooler: changes here are overwritten.",
        "[databases]",
        "; a comment with host=pg-a in it",
        "# another host=pg-a",
        "app = host=pg-b port=5432 dbname=app",
        "  reports =   host=pg-b   port=5432 dbname=app pool_mode=session",
        "",
        "[pgbouncer]",
        "listen_addr = 0.0.0.0",
        "# host=pg-a here is a comment of the pgbouncer section",
        "server_reset_query = host=pg-a",
    ]
    assert moved.endswith("\n")


def test_repointed_ini_is_idempotent_and_reversible():
    text = sample_ini("pg-a")
    moved = repointed_ini(text, "pg-b")
    assert repointed_ini(moved, "pg-b") == moved
    assert repointed_ini(moved, "pg-a") == text


def test_repointed_ini_only_host_key():
    moved = repointed_ini("[databases]\napp = xhost=keep host=pg-a dbname=host\n", "pg-b")
    assert moved == "[databases]\napp = xhost=keep host=pg-b dbname=host\n"


# render_userlist / parse_userlist ------------------------------------------------------------------

VERIFIERS = {
    "zeta": "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy",
    "app": "SCRAM-SHA-256$4096:YWJj$ZGVm:Z2hp",
    ADMIN_USER: "SCRAM-SHA-256$4096:eHl6$MTIz:NDU2",
}


def test_render_userlist_sorted_and_quoted():
    text = render_userlist(VERIFIERS)
    assert text.splitlines() == [f'"{name}" "{VERIFIERS[name]}"' for name in sorted(VERIFIERS)]
    assert text.endswith("\n")


def test_userlist_round_trip():
    assert parse_userlist(render_userlist(VERIFIERS)) == VERIFIERS


def test_userlist_empty():
    assert render_userlist({}) == ""
    assert parse_userlist("") == {}
    assert parse_userlist(None) == {}


def test_parse_userlist_skips_other_lines():
    text = ';comment\n\n  "app"   "SCRAM-SHA-256$x"  \nnot a line\n"empty" ""\n"bad "x"\n'
    assert parse_userlist(text) == {"app": "SCRAM-SHA-256$x", "empty": ""}


# TLS towards the clients ------------------------------------------------------------------------------

def test_client_tls_off_leaves_the_ini_as_it_was():
    assert sample_ini() == sample_ini(client_tls_sslmode="disable")
    assert "client_tls" not in sample_ini()


def test_client_tls_settings_point_at_the_copied_files():
    settings = parse_ini(sample_ini(client_tls_sslmode="require"))["pgbouncer"]
    assert settings["client_tls_sslmode"] == "require"
    assert settings["client_tls_cert_file"] == f"{POOLER_CONFIG_MOUNT}/listen.crt"
    assert settings["client_tls_key_file"] == f"{POOLER_CONFIG_MOUNT}/listen.key"
    assert "client_tls_ca_file" not in settings
    settings = parse_ini(sample_ini(client_tls_sslmode="verify-full", client_tls_ca_file="/x/ca.crt"))["pgbouncer"]
    assert settings["client_tls_ca_file"] == f"{POOLER_CONFIG_MOUNT}/client-ca.crt"
    # switching it on or off is a RELOAD, not a restart
    assert needs_restart(sample_ini(), sample_ini(client_tls_sslmode="verify-full", client_tls_ca_file="/x")) == []
    with pytest.raises(PgdockError, match="client_tls_sslmode: 'on' is not one of"):
        sample_ini(client_tls_sslmode="on")
    with pytest.raises(PgdockError, match="client_tls_cert_file are managed by the module"):
        sample_ini(settings={"client_tls_cert_file": "/etc/x.crt"})


@pytest.mark.parametrize("mode, expected", [
    ("disable", {"sslmode": "disable"}), ("allow", {"sslmode": "disable"}), ("prefer", {"sslmode": "disable"}),
    ("require", {"sslmode": "require"}),
    ("verify-ca", {"sslmode": "require", "sslcert": f"/r/{ADMIN_CERT_NAME}", "sslkey": f"/r/{ADMIN_KEY_NAME}"}),
    ("verify-full", {"sslmode": "require", "sslcert": f"/r/{ADMIN_CERT_NAME}", "sslkey": f"/r/{ADMIN_KEY_NAME}"}),
])
def test_the_admin_connection_meets_what_the_pooler_asks_of_clients(mode, expected):
    assert admin_ssl(sample_ini(client_tls_sslmode=mode, client_tls_ca_file="/x"), "/r") == expected
    assert admin_ssl(None, "/r") == {"sslmode": "disable"}


def test_an_external_server_on_its_own_port_is_repointed_to_a_container_on_5432():
    ini = render_ini([{"name": "app"}], "old-db.example", {"pool_mode": "transaction"}, port=6543)
    assert parse_ini(ini)["databases"]["app"] == "host=old-db.example port=6543 dbname=app"
    assert database_lines([], "old-db", port=5433) == ["* = host=old-db port=5433"]
    moved = parse_ini(repointed_ini(ini, "pg-new"))
    assert moved["databases"]["app"] == "host=pg-new port=5432 dbname=app"
    assert parse_ini(repointed_ini(ini, "pg-new", 7000))["databases"]["app"] == "host=pg-new port=7000 dbname=app"
