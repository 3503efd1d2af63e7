"""query.kinds: reads, DML and other statements, changed from them, and transaction control."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.query.kinds import (
    DML, OTHER, READ, affected_rows, changed, kind_of, transaction_control)
from ansible_collections.pgdock.postgres.plugins.module_utils.query.statements import split


def kind(sql: str) -> str:
    return kind_of(split(sql)[0])


@pytest.mark.parametrize("sql, expected", [
    ("SELECT 1", READ),
    ("select * from t where x in (select y from u)", READ),
    ("(SELECT 1) UNION (SELECT 2)", READ),
    ("SHOW work_mem", READ),
    ("VALUES (1), (2)", READ),
    ("TABLE t", READ),
    ("EXPLAIN SELECT 1", READ),
    ("EXPLAIN (COSTS off, FORMAT json) DELETE FROM t", READ),
    ("EXPLAIN (ANALYZE false) DELETE FROM t", READ),
    ("EXPLAIN ANALYZE SELECT 1", READ),
    ("EXPLAIN (ANALYZE, BUFFERS) SELECT 1", READ),
    ("EXPLAIN ANALYZE DELETE FROM t", OTHER),
    ("EXPLAIN (ANALYZE on) INSERT INTO t VALUES (1)", OTHER),
    ("EXPLAIN VERBOSE ANALYZE SELECT * INTO x FROM t", OTHER),
    ("WITH a AS (SELECT 1) SELECT * FROM a", READ),
    ("WITH RECURSIVE a(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM a WHERE n < 3) SELECT * FROM a", READ),
    ("WITH a AS MATERIALIZED (SELECT 1) SELECT * FROM a FOR UPDATE", OTHER),
    ("WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone", OTHER),
    ("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", DML),
    ("SELECT * INTO copy FROM t", OTHER),
    ("SELECT * FROM t FOR UPDATE", OTHER),
    ("SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", OTHER),
    ("SELECT * FROM t FOR KEY SHARE", OTHER),
    ("SELECT substring('abc' FOR 2)", READ),
    ("SELECT 'INTO', \"into\" FROM t", READ),
    ("INSERT INTO t VALUES (1)", DML),
    ("update t set x = 1", DML),
    ("DELETE FROM t", DML),
    ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", DML),
    ("COPY t FROM '/tmp/x.csv'", DML),
    ("CREATE TABLE t (id int)", OTHER),
    ("GRANT SELECT ON t TO r", OTHER),
    ("VACUUM t", OTHER),
    ("ALTER SYSTEM SET work_mem = '8MB'", OTHER),
    ("CALL p()", OTHER),
])
def test_kinds(sql, expected):
    assert kind(sql) == expected


def test_changed_from_the_kind_and_the_count():
    assert not changed(READ, 5, "SELECT 5")
    assert changed(DML, 1, "UPDATE 1") and not changed(DML, 0, "UPDATE 0")
    assert changed(DML, -1, "MERGE 2") and not changed(DML, -1, None)
    assert changed(OTHER, -1, "CREATE TABLE")
    assert affected_rows(-1, "INSERT 0 3") == 3 and affected_rows(4, "x") == 4


@pytest.mark.parametrize("sql, expected", [
    ("BEGIN", "BEGIN"), ("begin transaction isolation level serializable", "BEGIN"),
    ("START TRANSACTION", "START"), ("COMMIT", "COMMIT"), ("END", "END"), ("ABORT", "ABORT"),
    ("ROLLBACK TO SAVEPOINT a", "ROLLBACK"), ("SAVEPOINT a", "SAVEPOINT"), ("RELEASE a", "RELEASE"),
    ("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION"), ("COMMIT PREPARED 'x'", "COMMIT"),
    ("PREPARE q AS SELECT 1", None), ("SET TRANSACTION READ ONLY", None),
    ("DO $$BEGIN COMMIT; END$$", None),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END", None),
])
def test_transaction_control(sql, expected):
    assert transaction_control(split(sql)[0]) == expected
