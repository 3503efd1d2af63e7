"""Integration tests of pgdock.postgres.role against real PostgreSQL 15 and 18 containers."""

from __future__ import annotations

import json
import secrets

import psycopg2
import pytest

from ansible_runner import run_module, run_playbook

MAJORS = [15, 18]


def hostile_password(token: str) -> str:
    """Quotes, backslash, dollar, newline and non-ASCII (SASLprep fails: raw bytes are hashed)."""
    return f"q'uo\"te \\back $dollar $$ {token}\nnewline nø-ascii ünï"


def connect(server: dict, user: str | None = None, password: str | None = None, dbname: str = "postgres"):
    conn = psycopg2.connect(host="127.0.0.1", port=server["port"], user=user or server["superuser"],
                            password=server["password"] if password is None else password,
                            dbname=dbname, connect_timeout=5)
    conn.autocommit = True
    return conn


def sql(server: dict, query: str, params=None, dbname: str = "postgres"):
    conn = connect(server, dbname=dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def can_login(server: dict, user: str, password: str) -> bool:
    try:
        connect(server, user, password).close()
    except psycopg2.OperationalError as exc:
        assert "password authentication failed" in str(exc), exc
        return False
    return True


def role_names(server: dict) -> set[str]:
    return {row[0] for row in sql(server, "SELECT rolname FROM pg_roles")}


def role(server: dict, check: bool = False, diff: bool = False, **args):
    return run_module("role", dict(container=server["name"], **args), check=check, diff=diff)


@pytest.mark.parametrize("major", MAJORS)
def test_hostile_names_and_password(pg_server, major):
    server = pg_server(major)
    sql(server, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
    roles_before = role_names(server)
    password = hostile_password(secrets.token_hex(6))
    mapped = "\u2168 fullwidth \uff21 " + secrets.token_hex(4)  # SASLprep maps it (NFKC)
    names = {'weird"name': password, "x'); DROP TABLE t;--": mapped}

    for name, pw in names.items():
        checked = role(server, check=True, name=name, login=True, password=pw)
        assert checked.changed and checked["role"]["login"], checked
        assert name not in role_names(server)
        created = role(server, diff=True, name=name, login=True, password=pw, connection_limit=5)
        assert created.changed and not created.failed, created
        assert created["role"]["password_type"] == "scram-sha-256"
        assert created["diff"]["before"] == {} and created["diff"]["after"]["password"] == "changed"
        assert all("********" in query for query in created["queries"]), created["queries"]
        again = role(server, name=name, login=True, password=pw, connection_limit=5)
        assert not again.changed and again["queries"] == [], again
        assert again["role"]["password"] == "unchanged"
        assert can_login(server, name, pw)
        assert not can_login(server, name, pw + "x")

    assert sql(server, "SELECT id FROM t") == [(1,)]
    assert role_names(server) - roles_before == set(names)
    assert roles_before - role_names(server) == set()


@pytest.mark.parametrize("major", MAJORS)
def test_password_changes(pg_server, major):
    server = pg_server(major)
    name, old, new = "app_user", "Old-" + secrets.token_hex(8), "New-" + secrets.token_hex(8)
    assert role(server, name=name, login=True, password=old).changed
    same = role(server, name=name, password=old, diff=True)
    assert not same.changed and same["diff"]["before"] == same["diff"]["after"], same
    stored = sql(server, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,))[0][0]

    # check mode predicts the change and leaves the verifier alone
    predicted = role(server, name=name, password=new, check=True, diff=True)
    assert predicted.changed and predicted["diff"]["after"]["password"] == "changed", predicted
    assert sql(server, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,))[0][0] == stored

    changed = role(server, name=name, password=new, diff=True)
    assert changed.changed and changed["diff"]["before"]["password"] == "unchanged"
    assert changed["diff"]["after"]["password"] == "changed"
    assert can_login(server, name, new) and not can_login(server, name, old)

    # on_create: an existing role keeps its password
    kept = role(server, name=name, password=old, update_password="on_create")
    assert not kept.changed and can_login(server, name, new)

    # a SCRAM verifier given as the password is stored as it is
    verifier = sql(server, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,))[0][0]
    other = role(server, name="copy_user", login=True, password=verifier)
    assert other.changed and can_login(server, "copy_user", new)
    assert not role(server, name="copy_user", password=verifier).changed

    # an md5 hash (or no password) is replaced by a SCRAM verifier
    sql(server, "SET password_encryption = 'md5'; ALTER ROLE app_user PASSWORD %s", (new,))
    assert sql(server, "SELECT rolpassword FROM pg_authid WHERE rolname = 'app_user'")[0][0].startswith("md5")
    upgraded = role(server, name=name, password=new)
    assert upgraded.changed and upgraded["role"]["password_type"] == "scram-sha-256", upgraded
    assert not role(server, name=name, password=new).changed
    sql(server, "CREATE ROLE nopass LOGIN")
    assert role(server, name="nopass", password=new).changed
    assert can_login(server, "nopass", new)


@pytest.mark.parametrize("major", MAJORS)
def test_server_never_sees_cleartext(pg_server, docker_client, major):
    server = pg_server(major)
    first, second = "First-" + secrets.token_hex(8), "Second-" + secrets.token_hex(8)
    assert role(server, name="logged", login=True, password=first).changed
    sql(server, "ALTER SYSTEM SET log_statement = 'all'")
    sql(server, "SELECT pg_reload_conf()")
    result = role(server, name="logged", password=second)
    assert result.changed
    assert can_login(server, "logged", second)
    logs = docker_client.containers.get(server["name"]).logs().decode("utf-8", "replace")
    assert "ALTER ROLE \"logged\" WITH PASSWORD 'SCRAM-SHA-256$4096:" in logs
    assert second not in logs and first not in logs
    # the module's own output masks the verifier as well
    verifier = sql(server, "SELECT rolpassword FROM pg_authid WHERE rolname = 'logged'")[0][0]
    assert verifier not in result.stdout and second not in result.stdout


@pytest.mark.parametrize("major", MAJORS)
def test_attributes_and_memberships(pg_server, major):
    server = pg_server(major)
    for group in ("readers", "writers", "admins"):
        assert role(server, name=group).changed
    args = dict(name="alice", login=True, createdb=True, inherit=False, connection_limit=7,
                valid_until="2031-06-01 12:00:00+02", member_of=["readers", "writers"])
    checked = role(server, check=True, diff=True, **args)
    assert checked.changed and "alice" not in role_names(server)
    created = role(server, diff=True, **args)
    assert created.changed
    expected = dict(name="alice", login=True, superuser=False, createdb=True, createrole=False,
                    replication=False, bypassrls=False, inherit=False, connection_limit=7,
                    valid_until="2031-06-01T10:00:00Z", member_of=["readers", "writers"], password_type=None)
    assert created["role"] == expected
    assert checked["role"] == expected  # check mode predicted the same
    assert not role(server, **args).changed

    appended = role(server, name="alice", member_of=["admins"], member_of_mode="append")
    assert appended.changed and appended["role"]["member_of"] == ["admins", "readers", "writers"]
    exact = role(server, name="alice", member_of=["readers"], diff=True, connection_limit=-1,
                 valid_until="infinity", createdb=False)
    assert exact.changed, exact
    assert exact["diff"]["before"]["member_of"] == ["admins", "readers", "writers"]
    assert exact["diff"]["after"]["member_of"] == ["readers"]
    assert (exact["role"]["connection_limit"], exact["role"]["valid_until"], exact["role"]["createdb"]) == \
        (-1, "infinity", False)
    assert sql(server, "SELECT array_agg(g.rolname::text ORDER BY 1) FROM pg_auth_members m "
                       "JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = 'alice'::regrole") == [(["readers"],)]
    assert not role(server, name="alice", member_of=["readers"]).changed
    assert role(server, name="alice", member_of=[]).changed
    assert sql(server, "SELECT count(*) FROM pg_auth_members WHERE member = 'alice'::regrole") == [(0,)]


@pytest.mark.parametrize("major", MAJORS)
def test_drop(pg_server, major):
    server = pg_server(major)
    dropper_pw = "Dropper-" + secrets.token_hex(8)
    assert role(server, name="dropper", login=True, superuser=True, password=dropper_pw).changed
    refused = run_module("role", dict(login_port=server["port"], login_user="dropper", login_password=dropper_pw,
                                      name="dropper", state="absent"))
    assert refused.failed and "refusing to drop role 'dropper': the module is connected as it" in refused["msg"]
    assert "dropper" in role_names(server)

    # objects of the doomed role in two databases, a privilege, and a database it owns
    for name in ("doomed", "heir"):
        assert role(server, name=name, login=True).changed
    sql(server, "CREATE DATABASE other OWNER doomed")
    sql(server, "CREATE DATABASE doomed_db OWNER doomed")
    sql(server, "CREATE TABLE public.mine (id int); ALTER TABLE public.mine OWNER TO doomed")
    sql(server, "CREATE TABLE public.theirs (id int); GRANT SELECT ON public.theirs TO doomed")
    sql(server, "CREATE TABLE public.there (id int); ALTER TABLE public.there OWNER TO doomed", dbname="other")

    plain = role(server, name="doomed", state="absent")
    assert plain.failed and "owns objects or holds privileges in database(s) other, postgres" in plain["msg"], plain
    assert "reassign_owned_to" in plain["msg"]
    checked = role(server, check=True, name="doomed", state="absent", reassign_owned_to="heir", drop_owned=True)
    assert checked.changed and "doomed" in role_names(server)
    dropped = role(server, diff=True, name="doomed", state="absent", reassign_owned_to="heir", drop_owned=True)
    assert dropped.changed and not dropped.failed, dropped
    assert dropped["diff"]["after"] == {} and dropped["diff"]["before"]["name"] == "doomed"
    assert 'REASSIGN OWNED BY "doomed" TO "heir"' in dropped["queries"]
    assert "doomed" not in role_names(server)
    assert sql(server, "SELECT tableowner FROM pg_tables WHERE tablename = 'mine'") == [("heir",)]
    assert sql(server, "SELECT tableowner FROM pg_tables WHERE tablename = 'there'", dbname="other") == [("heir",)]
    assert sql(server, "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname IN "
                       "('other', 'doomed_db') ORDER BY 1") == [("doomed_db", "heir"), ("other", "heir")]
    assert not role(server, name="doomed", state="absent").changed


@pytest.mark.parametrize("major", MAJORS)
def test_bad_input(pg_server, major):
    server = pg_server(major)
    cases = [
        (dict(name="x", connection_limit=-2), "connection_limit: must be -1 (no limit) or a number"),
        (dict(name="x", member_of=["no_such_group"]), "member_of: role 'no_such_group' does not exist"),
        (dict(name="x", member_of=["x"]), "member_of: role 'x' cannot be a member of itself"),
        (dict(name="x", valid_until="next tuesday-ish"), "valid_until: 'next tuesday-ish' is not a timestamp"),
        (dict(name="pg_mine"), "reserved for PostgreSQL's predefined roles"),
        (dict(name="public"), "'public' is a reserved role name"),
        (dict(name="n" * 64), "longer than 63 bytes"),
        (dict(name="x", password=""), "password: must be non-empty"),
        (dict(name="x", password="a" * 1025), "password: longer than 1024 bytes"),
        (dict(name="x", state="absent", reassign_owned_to="x"), "reassign_owned_to: must be another role"),
    ]
    before = role_names(server)
    for args, message in cases:
        result = role(server, **args)
        assert result.failed and message in result["msg"], (args, result.get("msg"))
    gone = role(server, name="someone", state="absent", reassign_owned_to="no_such_heir")
    assert not gone.failed and not gone.changed  # nothing to drop: the heir is not looked at
    sql(server, "CREATE ROLE someone")
    missing_heir = role(server, name="someone", state="absent", reassign_owned_to="no_such_heir")
    assert missing_heir.failed and "reassign_owned_to: role 'no_such_heir' does not exist" in missing_heir["msg"]
    assert role_names(server) - before == {"someone"}


@pytest.mark.parametrize("major", MAJORS)
def test_vvv_output_holds_no_password(pg_server, major):
    server = pg_server(major)
    token = secrets.token_hex(8)
    password = hostile_password(token)
    limited_pw = "Limited-" + secrets.token_hex(8)
    sql(server, "CREATE ROLE limited LOGIN CREATEROLE PASSWORD %s", (limited_pw,))
    # secrets only in extra vars: on failure, ansible prints the playbook lines around the task
    extra = dict(pw=password, limited_pw=limited_pw, login=dict(
        login_host="127.0.0.1", login_port=server["port"], login_user=server["superuser"],
        login_password=server["password"]))
    playbook = f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: create
      pgdock.postgres.role: {{name: vvv_user, login: true, password: "{{{{ pw }}}}", login_host: "{{{{ login.login_host }}}}",
        login_port: "{{{{ login.login_port }}}}", login_user: "{{{{ login.login_user }}}}", login_password: "{{{{ login.login_password }}}}"}}
      diff: true
    - name: again, through the container
      pgdock.postgres.role: {{name: vvv_user, password: "{{{{ pw }}}}", container: {server["name"]}}}
    - name: grant with an explicit superuser password
      pgdock.postgres.grant: {{roles: [vvv_user], type: database, objs: [postgres], privileges: [CONNECT],
        login_port: "{{{{ login.login_port }}}}", login_password: "{{{{ login.login_password }}}}"}}
      diff: true
    - name: failing on bad input
      pgdock.postgres.role: {{name: vvv_user, password: "{{{{ pw }}}}x", member_of: [nobody], container: {server["name"]}}}
      ignore_errors: true
    - name: failing in the server after the verifier was sent
      pgdock.postgres.role: {{name: vvv_super, superuser: true, password: "{{{{ pw }}}}", login_port: "{{{{ login.login_port }}}}",
        login_user: limited, login_password: "{{{{ limited_pw }}}}"}}
      ignore_errors: true
    - name: failing grant
      pgdock.postgres.grant: {{roles: [vvv_user], type: table, objs: [nope], privileges: [SELECT], container: {server["name"]}}}
      ignore_errors: true
"""
    proc = run_playbook(playbook, extra_vars=extra, verbosity=3, json_output=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert output.count("ok: [localhost]") + output.count("changed: [localhost]") >= 3, output[-5000:]
    assert output.count("FAILED!") == 3, output[-5000:]
    assert "permission denied" in output or "must be superuser" in output, output[-5000:]
    for secret in (token, server["password"], limited_pw, json.dumps(password)[1:-1], "SCRAM-SHA-256$"):
        assert secret not in output, f"{secret!r} found in -vvv output"
    assert can_login(server, "vvv_user", password)
