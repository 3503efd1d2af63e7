"""Unit tests of the per-database catalog sections: subscriptions grouped with their relation
states and masked conninfo, and the per-database sessions (a database that refuses stands as an error)."""

from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.info.catalog import (
    DatabaseSessions,
    extension_facts,
    subscriptions_by_database,
)

SECRET = "s3cr3t pass'word"


def test_subscriptions_by_database_with_states_and_masked_conninfo():
    subs = [
        dict(oid=1, name="sub_a", database="app", enabled=True, publications=["p"], slot_name="sub_a",
             conninfo=f"host=pg-primary dbname=app user=rep password='{SECRET.replace(chr(39), chr(92) + chr(39))}'"),
        dict(oid=2, name="sub_b", database="app", enabled=False, publications=["q"], slot_name=None, conninfo=None),
        dict(oid=3, name="sub_c", database="other", enabled=True, publications=["p"], slot_name="c",
             conninfo="postgresql://rep:" + "pw%40x" + "@h/db"),
    ]
    states = {"app": [dict(oid=1, state="r", count=3), dict(oid=1, state="d", count=1), dict(oid=2, state="i", count=2),
                      dict(oid=9, state="r", count=5)]}
    result = subscriptions_by_database(subs, states)
    assert set(result) == {"app", "other"}
    a = result["app"]["sub_a"]
    assert a["relations"] == {"ready": 3, "data_copy": 1}
    assert a["conninfo"] == "user=rep password=******** dbname=app host=pg-primary"
    assert result["app"]["sub_b"]["relations"] == {"initialize": 2} and result["app"]["sub_b"]["conninfo"] is None
    # its database could not be read: relations unknown; the URI's password masked too
    c = result["other"]["sub_c"]
    assert c["relations"] is None and "pw" not in c["conninfo"] and "password=********" in c["conninfo"]
    assert SECRET not in repr(result) and "oid" not in a and "database" not in a and "name" not in a
    assert subs[0]["conninfo"].startswith("host=")  # the input is left as it was


class FakeSession:
    def __init__(self, dbname, version=180001, fail_in=(), rows_by_db=None):
        self.dbname, self.version, self.fail_in = dbname, version, fail_in
        self.rows_by_db, self.closed = rows_by_db or {}, False

    def rows(self, query, params=None, what=None, dicts=False):
        if "from pg_database where datallowconn" in query:
            return [(name,) for name in sorted(self.rows_by_db)]
        return self.rows_by_db[self.dbname]

    def other_database(self, name):
        if name in self.fail_in:
            raise PgdockError(f"cannot connect to PostgreSQL (database {name!r}): permission denied")
        return FakeSession(name, self.version, self.fail_in, self.rows_by_db)

    def close(self):
        self.closed = True


def test_each_database_once_and_errors_kept_apart():
    rows = {"postgres": [dict(name="plpgsql", version="1.0", schema="pg_catalog", default_version="1.0", update_available=False)],
            "app": [dict(name="pgcrypto", version="1.2", schema="public", default_version="1.3", update_available=True)],
            "locked": []}
    main = FakeSession("postgres", fail_in=("locked",), rows_by_db=rows)
    databases = DatabaseSessions(main)
    facts = extension_facts(SimpleNamespace(session=main, databases=databases))
    assert facts["databases"]["app"] == {"pgcrypto": dict(version="1.2", schema="public", default_version="1.3",
                                                          update_available=True)}
    assert list(facts["databases"]["postgres"]) == ["plpgsql"]
    assert facts["updates_available"] == [dict(database="app", name="pgcrypto", version="1.2", default_version="1.3")]
    assert list(facts["errors"]) == ["locked"] and "permission denied" in facts["errors"]["locked"]
    # the session on app is reused, and closed at the end; the main one is left to its owner
    app = databases.get("app")
    assert databases.get("app") is app and databases.get("postgres") is main
    databases.close()
    assert app.closed and not main.closed
