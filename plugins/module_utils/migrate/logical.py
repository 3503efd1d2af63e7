# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `logical` method: roles (copy_scripts: their verifiers), then per database its schema
(pg_dump --schema-only through psql), a publication on the source and a subscription on the target
that copies the tables and then streams every change; the target may run a newer major version.
The cutover fences the source, waits until every subscription has confirmed the source's last
WAL position, copies the tables left out, sets the sequences and verifies, all while clients wait;
then the subscriptions, publications, slots and the replication role go."""

from __future__ import annotations

import secrets
import tempfile
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import get_or_none
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import human_bytes
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate import publisher
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.copy_scripts import (
    CREATE_OR_INTO,
    LOAD_SCHEMA,
    HelperLogins,
    copy_globals,
    create_or_into,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.cutover import Cutover
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.fence import fence, unfence
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.logical_checks import (
    blocking_problems,
    object_name,
    parse_table,
    slot_name,
    unknown_skips,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.preflight import replication_rule_problem
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.reverse import ReverseReplication
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.source import REPLICATION_PGPASS
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.target_lifecycle import (
    fresh_target,
    now,
    prepare_abort,
    remove_target,
    superuser_password,
    target_connection,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import QueryError
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import timed

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

# $1 the target's postgres database, $2 the database, $3 the source's database, $5 create or into
SCHEMA_SCRIPT = (CREATE_OR_INTO + 'pg_dump -d "$3" --schema-only --no-tablespaces --no-subscriptions $c '
                 '-f /tmp/pre.sql; ' + LOAD_SCHEMA)
# per subscription of this database: tables, tables copied (ready or synchronised), their bytes
COPY_STATUS_SQL = """select count(r.srrelid), count(r.srrelid) filter (where r.srsubstate in ('r', 's')),
       coalesce(sum(pg_table_size(r.srrelid)), 0)::bigint
from pg_subscription s left join pg_subscription_rel r on r.srsubid = s.oid
where s.subname = %s and s.subdbid = (select oid from pg_database where datname = current_database())"""
SUBSCRIPTION_OID_SQL = """select oid from pg_subscription where subname = %s
                          and subdbid = (select oid from pg_database where datname = current_database())"""
ERRORS_SQL = f"""select sum(apply_error_count + sync_error_count)::bigint from pg_stat_subscription_stats
                 where subid = ({SUBSCRIPTION_OID_SQL})"""
LAG_SQL = """select slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
             from pg_replication_slots where slot_name = any(%s)"""
APPLIED_SQL = """select count(*) from pg_replication_slots
                 where slot_name = any(%s) and confirmed_flush_lsn >= %s::pg_lsn"""
SEQUENCES_SQL = "select schemaname, sequencename, last_value from pg_sequences where last_value is not null"
SET_SEQUENCE_SQL = "select setval(format('%%I.%%I', %s, %s)::regclass, %s, true)"
MATERIALIZED_VIEWS_SQL = f"""select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'm' and {publisher.USER_SCHEMAS} order by 1, 2"""
POLL_SECONDS = 1.0
CATCH_UP_POLL_SECONDS = 0.01


class LogicalMethod:
    """Publications and subscriptions per database; see the module's documentation."""

    def __init__(self, run):
        self.run = run
        self.p = run.p
        self.name = object_name(run.name)
        self._tables: dict | None = None
        self.reverse = ReverseReplication(self)

    # -- checks and plan ---------------------------------------------------------------------------
    def problems(self) -> list[str]:
        found = self.reverse.problems()
        if self.run.facts["major"] < 10 or not self.run.facts["superuser"]:
            return found  # preflight says why; the catalogs below may not be readable
        try:
            skipped = self.skipped()
        except ValueError as exc:
            return found + [f"skip_tables: {exc}"]
        existing = set()
        for database, tables in self.tables().items():
            existing |= tables["all"]
            found += blocking_problems(database, tables, skipped, self.p["replica_identity_full"],
                                       tables["large_objects"])
        unknown = unknown_skips(skipped, existing)
        if unknown:
            found.append(f"skip_tables: {', '.join(unknown)} name no table of the databases migrated; write a table "
                         "as schema.table, a part in double quotes when it holds a dot or a quote "
                         '(for example public.audit_log or "my.schema"."Order ""x""")')
        found += self._slot_problems()
        found += self._hba_problems()
        return found

    def _hba_problems(self) -> list[str]:
        """The source's pg_hba.conf rules the subscriptions need: the replication role into every
        database, from the network the target reaches the source on (or through its socket)."""
        kind = "local" if self.run.route.mounts else "host"
        subnet = self._route_subnet() if kind == "host" else None
        if kind == "host" and subnet is None:
            return []  # the source is reached through routing this module does not know: not checked
        found = []
        for database in self.run.databases():
            problem = replication_rule_problem(self.run.facts["hba_text"], self.p["replication_user"], kind, subnet,
                                               database=database)
            if problem:
                found.append(problem)
        return found

    def _route_subnet(self) -> str | None:
        networks = [n["name"] for n in (self.p.get("target") or {}).get("networks") or []]
        name = self.run.route.network or (networks[0] if networks else None)
        network = get_or_none(self.run.client.networks, name, "network") if name else None
        configs = ((network.attrs.get("IPAM") or {}).get("Config") or []) if network is not None else []
        return configs[0].get("Subnet") if configs else None

    def _slot_problems(self) -> list[str]:
        with self.run.source.session() as session:
            others = int(session.value("select count(*) from pg_replication_slots where slot_name not like %s",
                                       [f"{self.name}\\_%"]) or 0)
        wanted = len(self.run.databases()) + 2   # a slot per database and the copy's table synchronisations
        free = self.run.facts["max_replication_slots"] - others
        if free < wanted:
            return [f"the source has max_replication_slots = {self.run.facts['max_replication_slots']} with {others} "
                    f"in use; the migration of {len(self.run.databases())} databases needs {wanted} free: raise it "
                    "(and max_wal_senders) in its postgresql.conf and restart it"]
        return []

    def skipped(self) -> set:
        """skip_tables as (schema, table)."""
        return {parse_table(entry) for entry in self.p["skip_tables"] or []}

    def tables(self) -> dict:
        """Per database: the source's tables (publisher.read_tables), read once."""
        if self._tables is None:
            self._tables = {}
            for database in self.run.databases():
                with self.run.source.session(database) as session:
                    self._tables[database] = publisher.read_tables(session)
        return self._tables

    def plan(self) -> list[str]:
        state = self.run.state() or {}
        steps = []
        if state.get("phase") in ("cut_over", "reverted"):
            return steps
        if not self._subscribed(state):
            user = self.p["replication_user"]
            steps += [f"create the target container {self.run.name} ({self.run.image})",
                      "copy roles, their passwords (verifiers) and memberships (pg_dumpall --globals-only)",
                      f"create role {user!r} on the source (LOGIN REPLICATION, read access to the tables)"]
            for database, tables in self.tables().items():
                if self.p["replica_identity_full"]:
                    steps += [f"give {len(self._no_key(tables))} tables without a key in database {database!r} "
                              "REPLICA IDENTITY FULL on the source"]
                steps += [f"copy the schema of database {database!r} (pg_dump --schema-only)",
                          f"create publication {self.name} in database {database!r} on the source "
                          f"({self._publication_label(tables)})",
                          f"create subscription {self.name} in database {database!r} on the target "
                          "(initial copy, then streaming)"]
        if self.p["state"] == "cutover":
            if self.run.pooler is not None:
                steps.append(f"pause pooler {self.p['pooler']}")
            steps += self.reverse.plan_cutover_before()
            steps += ["make the source read-only for new transactions and end its client sessions",
                      "wait until every subscription has applied the source's last WAL position",
                      f"copy the tables left out ({len(self.skipped())} per database where they exist)",
                      "set every sequence on the target from the source"]
            steps += self.reverse.plan_cutover_slots()
            steps += ["let the target take writes"]
            if self.run.pooler is not None:
                steps += [f"repoint pooler {self.p['pooler']} to {self.run.name} and resume it"]
            steps += ["compare both sides as they were at the switch (roles, databases, owners, extensions, "
                      "row counts)",
                      "drop the subscriptions on the target, the publications, slots and replication role on "
                      "the source", "refresh the materialized views on the target"]
            steps += self.reverse.plan_cutover_after()
        return steps

    # -- states ------------------------------------------------------------------------------------
    def synced(self) -> dict:
        state = self.run.state() or {}
        self.reverse.refuse_when_reverted(state)
        if state.get("phase") == "cut_over":
            return self._cut_over_result(state)
        self._ready(state)
        return dict(self._wait_in_sync(), state="synced")

    def cutover(self) -> dict:
        state = self.run.state() or {}
        self.reverse.refuse_when_reverted(state)
        if state.get("phase") == "cut_over":
            self._finish(state)
            self.reverse.subscribe()
            return self._cut_over_result(state)
        self._ready(state)
        self._wait_in_sync()
        reverse = self.p["reverse_replication"]
        if reverse:
            self.reverse.prepare()
        elif state.get("reverse"):  # an attempt with it that rolled back: its slots would hold stale changes
            self.reverse.drop()
        sessions = Sessions(self.run)
        source = sessions.source("postgres")
        result: dict = {}
        try:
            for database in self.run.databases():  # before the fence: connections take time
                sessions.source(database)
                sessions.target(database)
                sessions.snapshot(database)

            def catch_up():
                steps = result["catch_up"] = {}
                timed(steps, "applied", self.wait_applied, source, source.value("select pg_current_wal_lsn()::text"))
                timed(steps, "skipped_tables", self.copy_skipped, sessions.source, sessions.target)
                result["sequences"] = timed(steps, "sequences", self.sync_sequences, sessions.source, sessions.target)
                if reverse:
                    timed(steps, "reverse_slots", self.reverse.make_slots, sessions)
                timed(steps, "snapshot", sessions.take_snapshots)
                timed(steps, "target_writable", self._open_target, sessions.target("postgres"))

            timings = Cutover(self.run, source).switch(catch_up, pause_during_catch_up=True,
                                                       spare=sessions.pids())
            downtime = timings["write_downtime_seconds"]
            self.run.save_state(phase="cut_over", cut_over_at=now(), write_downtime_seconds=downtime)
            try:
                result["verification"] = self.run.verification(self.run.databases(), sessions.snapshot)
            finally:
                self._finish(self.run.state() or {})
            result["materialized_views"] = self._refresh_materialized_views(sessions)
        finally:
            sessions.close()
        self.run.save_state(verification=result["verification"])
        if reverse:  # after the comparison (its changes would count as differences) and the forward subscriptions' drop
            self.reverse.subscribe()
        return {"state": "cut_over", "write_downtime_seconds": downtime,
                "timings": dict(timings, catch_up_steps=result["catch_up"]),
                "sequences_set": result["sequences"], "materialized_views_refreshed": result["materialized_views"],
                "connection": target_connection(self.run),
                "verification": result["verification"],
                "reverse_replication": self.reverse.describe(),
                "note": "verified against what the target held at the switch; the source stays read-only; the "
                        "subscriptions, publications, slots and the replication role are gone"
                        + ("; the source subscribes to the target (state reverted goes back, state finalized "
                           "ends it)" if reverse else "")}

    def aborted(self) -> dict:
        state = prepare_abort(self.run)
        self.reverse.remove_passfile((state or {}).get("reverse"))
        remove_target(self.run)   # its subscriptions go with it; their walsenders end
        with self.run.source.session() as session:
            databases = [r[0] for r in session.rows(
                "select datname from pg_database where datallowconn and not datistemplate order by datname")]
        publisher.remove_all(self.run, self.name, state or {}, databases)
        if state is not None:
            self.run.log.do(f"forget the migration state {self.run.state_file}", self.run.forget_state)
        return {"state": "aborted"}

    def _cut_over_result(self, state: dict) -> dict:
        return {"state": "cut_over", "write_downtime_seconds": state.get("write_downtime_seconds"),
                "connection": target_connection(self.run), "verification": state.get("verification"),
                "reverse_replication": self.reverse.describe()}

    def reverted(self) -> dict:
        return self.reverse.revert(Sessions(self.run))

    def finalized(self) -> dict:
        return self.reverse.finalize()

    # -- building ----------------------------------------------------------------------------------
    def _subscribed(self, state: dict) -> bool:
        return state.get("phase") == "subscribed" and self.run.target_container() is not None

    def _ready(self, state: dict) -> None:
        """The subscriptions exist (an earlier run's, with the target started again if it stopped), or
        are built from scratch (an attempt that did not get that far is removed first)."""
        if self._subscribed(state):
            self.run.ensure_target(superuser_password=superuser_password(self.run))
            return
        publisher.remove_all(self.run, self.name, state, self.run.databases())
        self.run.save_state(slots=[], suboids=[], identity_full=[], created_role=False, fenced=False)
        fresh_target(self.run, "building")
        logins = HelperLogins.write(self.run)
        copy_globals(self.run, logins)
        self._replication_role()
        slots, suboids, identity = [], [], []
        for database, tables in self.tables().items():
            with self.run.progress.phase(f"schema {database}"):
                self.run.helper(SCHEMA_SCRIPT, [logins.target(), logins.target(database),
                                                self.run.source.conninfo(self.run.route, dbname=database), "-",
                                                create_or_into(database)],
                                f"copying the schema of database {database}", mounts=logins.mounts,
                                beside_target=True)
            self.run.log.add(f"copied the schema of database {database!r}")
            with publisher.writable_session(self.run, database) as source:
                if self.p["replica_identity_full"]:
                    identity += publisher.set_identity_full(self.run, source, database, self._no_key(tables))
                    self.run.save_state(identity_full=identity)
                publisher.create_publication(self.run, source, database, self.name, self.published(tables))
                slots.append(slot_name(self.name, int(source.value(
                    "select oid from pg_database where datname = current_database()"))))
            self.run.save_state(slots=slots)
            suboids.append(self._subscribe(database, slots[-1]))
            self.run.save_state(suboids=suboids)
        with self.run.target_session() as target:
            self.run.log.do("make the target read-only for clients until the cutover", fence, target)
        self.run.save_state(phase="subscribed", subscribed_at=now())

    def _replication_role(self) -> None:
        """The role the subscriptions log in as, on the source, and its passfile for the target."""
        role = self.p["replication_user"]
        password = self.p.get("replication_password") or secrets.token_urlsafe(24)
        with publisher.writable_session(self.run) as source:
            created = publisher.ensure_role(self.run, source, role, password, self.run.databases())
        if created:
            self.run.save_state(created_role=True)
        self.run.write_file(REPLICATION_PGPASS, self.run.source.pgpass(role, password))

    def _subscribe(self, database: str, slot: str) -> int:
        """The subscription of `database` on the target (its slot made on the source); its oid. The
        password is in a passfile of the target's secrets mount, never in the subscription."""
        connection = self.run.source.conninfo(self.run.route, user=self.p["replication_user"], dbname=database,
                                              passfile=f"{SECRETS_MOUNT}/{REPLICATION_PGPASS}")
        name = sql.Identifier(self.name)
        statement = sql.SQL("create subscription {} connection %s publication {} "
                            "with (slot_name = %s, copy_data = true)").format(name, name)
        with self.run.target_session(database) as target:
            self.run.log.do(f"create subscription {self.name} in database {database!r} on the target (slot {slot})",
                            target.run, statement, [connection, slot], "creating the subscription")
            return int(target.value(SUBSCRIPTION_OID_SQL, [self.name]))

    def published(self, tables: dict):
        """The tables of the publication, or None for FOR ALL TABLES (nothing left out)."""
        left_out = self.skipped() & tables["all"]
        if not left_out:
            return None
        return tables["all"] - left_out - tables["unlogged"]

    def _publication_label(self, tables: dict) -> str:
        published = self.published(tables)
        return "all tables" if published is None else f"{len(published)} tables"

    def _no_key(self, tables: dict) -> set:
        return tables["no_key"] - self.skipped()

    # -- waiting -----------------------------------------------------------------------------------
    def _status(self) -> dict:
        """Per database: tables, tables copied, their bytes on the target, and the slot's lag on the source."""
        state = self.run.state() or {}
        with self.run.source.session() as source:
            lags = dict(source.rows(LAG_SQL, [state.get("slots") or []]))
        status = {}
        for database, slot in zip(self.run.databases(), state.get("slots") or []):
            with self.run.target_session(database) as target:
                tables, copied, size = target.row(COPY_STATUS_SQL, [self.name])
                errors = target.value(ERRORS_SQL, [self.name]) if self.run.layout.major >= 15 else None
            status[database] = {"tables": tables, "copied": copied, "bytes": size, "lag_bytes": lags.get(slot),
                                "errors": errors}
        return status

    def _wait_in_sync(self) -> dict:
        """Wait (wait_timeout) until every table is copied and each slot's lag is under max_lag_bytes,
        with a progress line whenever the copy moves; the status."""
        deadline = time.monotonic() + self.p["wait_timeout"]
        shown = None
        with self.run.progress.phase("initial copy and streaming") as phase:
            while True:
                status = self._status()
                copied = sum(s["copied"] for s in status.values())
                tables = sum(s["tables"] for s in status.values())
                phase["bytes"] = sum(s["bytes"] for s in status.values())
                lags = [s["lag_bytes"] for s in status.values()]
                if (copied, phase["bytes"]) != shown:
                    shown = (copied, phase["bytes"])
                    self.run.progress.line(f"copy: {copied} of {tables} tables copied ({human_bytes(phase['bytes'])})")
                in_sync = copied == tables and all(lag is not None and lag <= self.p["max_lag_bytes"] for lag in lags)
                if in_sync:
                    return {"databases": status, "lag_bytes": max(lags or [0]), "tables": tables}
                if time.monotonic() > deadline:
                    errors = sum(s["errors"] or 0 for s in status.values())
                    raise PgdockError(f"the target is not in sync after {self.p['wait_timeout']} s: {copied} of "
                                      f"{tables} tables copied, lag per database {[s['lag_bytes'] for s in status.values()]} "
                                      f"bytes, {errors} errors of the subscriptions' workers so far (the target's "
                                      "log says which); run again to keep waiting (the subscriptions keep working)",
                                      actions=self.run.log.actions, databases=status)
                time.sleep(POLL_SECONDS)

    def wait_applied(self, source, lsn: str, slots: list | None = None, side: str = "source") -> None:
        """Wait (catchup_timeout) until every subscription has confirmed `lsn` of `side` (`source`, a
        session there): the slots there of `slots` (default the forward subscriptions')."""
        slots = (self.run.state() or {}).get("slots") or [] if slots is None else slots
        deadline = time.monotonic() + self.p["catchup_timeout"]
        while int(source.value(APPLIED_SQL, [slots, lsn]) or 0) < len(slots):
            if time.monotonic() > deadline:
                raise PgdockError(f"the subscriptions did not apply the {side}'s position {lsn} within "
                                  f"{self.p['catchup_timeout']} s (catchup_timeout)")
            time.sleep(CATCH_UP_POLL_SECONDS)
        self.run.log.add(f"every subscription applied the {side}'s position {lsn}")

    # -- at cutover --------------------------------------------------------------------------------
    def copy_skipped(self, read, write, to_side: str = "target") -> None:
        """The tables left out of the publications, copied whole (writes are stopped) from the
        sessions `read(database)` into those of `write(database)`, on `to_side`."""
        skipped = self.skipped()
        for database, tables in self.tables().items():
            for schema, table in sorted(skipped & tables["all"]):
                name = sql.Identifier(schema, table)
                source, target = read(database), write(database)
                with tempfile.SpooledTemporaryFile(max_size=64 * 1024 ** 2) as rows:
                    with source.conn.cursor() as cur:
                        cur.copy_expert(sql.SQL("copy {} to stdout").format(name), rows)
                    rows.seek(0)
                    target.run(sql.SQL("truncate {}").format(name), what=f"emptying {schema}.{table} on the {to_side}")
                    with target.conn.cursor() as cur:
                        cur.copy_expert(sql.SQL("copy {} from stdin").format(name), rows)
                self.run.log.add(f"copied {schema}.{table} of database {database!r} to the {to_side} (left out of "
                                 "replication)")

    def _open_target(self, target) -> None:
        unfence(target)
        self.run.log.add("the target takes writes")

    def sync_sequences(self, read, write, sides: tuple = ("source", "target")) -> int:
        """Every sequence set to its value in the sessions `read(database)` in those of
        `write(database)` (`sides`: from, to); how many."""
        count = 0
        for database in self.run.databases():
            values = read(database).rows(SEQUENCES_SQL)
            for schema, name, value in values:
                write(database).run(SET_SEQUENCE_SQL, [schema, name, value], what=f"setting sequence {schema}.{name}")
            count += len(values)
        self.run.log.add(f"set {count} sequences on the {sides[1]} from the {sides[0]}")
        return count

    def _refresh_materialized_views(self, sessions) -> int:
        """The materialized views filled on the target (the schema made them empty), those that read
        other ones after them; how many."""
        count = 0
        for database in self.run.databases():
            target = sessions.target(database)
            waiting = target.rows(MATERIALIZED_VIEWS_SQL)
            while waiting:
                failed = []
                for schema, view in waiting:
                    try:
                        target.run(sql.SQL("refresh materialized view {}").format(sql.Identifier(schema, view)),
                                   what=f"refreshing materialized view {schema}.{view}")
                        count += 1
                    except QueryError as exc:
                        if exc.sqlstate != "55000":  # another view it reads is not filled yet
                            raise
                        failed.append((schema, view))
                if len(failed) == len(waiting):
                    raise PgdockError(f"materialized views of database {database!r} could not be refreshed: "
                                      f"{[f'{s}.{v}' for s, v in failed]}")
                waiting = failed
        if count:
            self.run.log.add(f"refreshed {count} materialized views on the target")
        return count

    def _finish(self, state: dict) -> None:
        """The subscriptions dropped on the target (their slots are dropped on the source below), then
        everything of the migration on the source."""
        for database in self.run.databases():
            with self.run.target_session(database) as target:
                publisher.drop_subscription(self.run, target, self.name, database, "target")
        publisher.remove_all(self.run, self.name, state, self.run.databases())


class Sessions:
    """Sessions on both sides kept for one cutover (opening one takes longer than the work in it),
    each allowed to write whatever the server's default says."""

    def __init__(self, run):
        self.run = run
        self.open: dict = {}

    def source(self, database: str):
        return self._get("source", database)

    def target(self, database: str):
        return self._get("target", database)

    def snapshot(self, database: str):
        """A session on the target that reads in one REPEATABLE READ transaction: after
        take_snapshots, what the target held at the switch (kept open for code that closes it)."""
        return KeptOpen(self._get("snapshot", database))

    def pids(self, which: str = "source") -> list[int]:
        """The backends of the sessions on the source (or `which` side: the fence leaves them open)."""
        return [session.conn.get_backend_pid() for (side, _db), session in self.open.items() if side == which]

    def take_snapshots(self) -> None:
        for (side, _database), session in self.open.items():
            if side == "snapshot":
                session.value("select 1")

    def _get(self, side: str, database: str):
        key = (side, database)
        if key not in self.open:
            if side == "source":
                self.open[key] = publisher.writable_session(self.run, database)
            elif side == "target":
                self.open[key] = self.run.target_session(database)
                self.open[key].run("set default_transaction_read_only = off")
            else:
                self.open[key] = self.run.target_session(database)
                self.open[key].conn.set_session(isolation_level="REPEATABLE READ", autocommit=False)
        return self.open[key]

    def close(self) -> None:
        for session in self.open.values():
            session.close()
        self.open.clear()


class KeptOpen:
    """A session handed to code that closes what it is given, left open for its owner."""

    def __init__(self, session):
        self.session = session

    def __getattr__(self, name):
        return getattr(self.session, name)

    def close(self, commit: bool = False) -> None:
        """Left open (its owner closes it)."""
