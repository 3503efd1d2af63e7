# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The way back of the logical method (reverse_replication): after the cutover the source subscribes
to the target, so that every write made there reaches it, and `state: reverted` switches the
clients back without losing one (`state: finalized` ends it instead). On the target: the
replication role, a pg_hba.conf rule for it, a publication of the same tables and a logical slot
per database, made while writes are stopped and before the target takes any; in the source's
container (a pgdock one, on this Docker host): the role's passfile; on the source: a subscription
per database on that slot, without copy (origin none from PostgreSQL 16 on)."""

from __future__ import annotations

import os
import secrets

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import get_or_none, is_managed, mount_source
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import (
    owner_of,
    pgpass_line,
    secret_needs_write,
    write_secret,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.rules import (
    HbaRule,
    first_match,
    name_token,
    normalise_address,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.server_file import ensure_first_rules
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate import publisher
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.cutover import Cutover
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.fence import unfence
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.logical_checks import slot_name
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.target_lifecycle import now
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import conninfo
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.psql import ContainerSession
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import timed

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

REVERSE_PGPASS = "pgdock-migrate-reverse.pgpass"  # in the source container's secrets directory
SYSTEM_ID_SQL = "select system_identifier::text from pg_control_system()"
DATABASE_OID_SQL = "select oid from pg_database where datname = current_database()"


def subscription_options(source_version: int) -> str:
    """The WITH options of a reverse subscription (its slot given as the parameter): no slot made,
    no copy, and from PostgreSQL 16 on origin none (changes that came from elsewhere not sent back)."""
    options = "create_slot = false, slot_name = %s, copy_data = false"
    return options + (", origin = none" if source_version >= 160000 else "")


def reverse_endpoint(reverse_host: str | None, reverse_port: int, target: str) -> tuple:
    """Where the source reaches the target: reverse_host and reverse_port, else the target's
    container name on a network both share, on the server's port there."""
    return (reverse_host, reverse_port) if reverse_host else (target, 5432)


def shared_networks(source_container, target_networks: list) -> list[str]:
    """The Docker networks the source container is on that the target joins too."""
    attached = ((source_container.attrs.get("NetworkSettings") or {}).get("Networks") or {})
    return sorted(set(attached) & set(target_networks))


class ReverseReplication:
    """The reverse direction of one logical migration (`method`: its LogicalMethod)."""

    def __init__(self, method):
        self.method = method
        self.run = method.run
        self.p = method.p
        self.name = f"{method.name}_r"   # publication, slots (with the database oid) and subscriptions

    # -- checks ------------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Why the source cannot subscribe to the target after the cutover (nothing when not asked)."""
        if not self.p["reverse_replication"]:
            return []
        name = self.p["source"].get("container")
        if not name:
            return ["reverse_replication: after the cutover the source subscribes to the target and logs in there "
                    "with a passfile, which the module can place only in a container made by pgdock.postgres on "
                    "this Docker host: give source.container (the source's container name); for another server "
                    "cut over without reverse_replication (the source then stays as it was at the switch)"]
        container = get_or_none(self.run.client.containers, name, "container")
        if container is None or not is_managed(container.labels) or container.status != "running":
            return [f"source.container: {name!r} is not a running container made by pgdock.postgres on this Docker "
                    "host (reverse_replication writes the source's passfile into its secrets directory)"]
        if mount_source(container.attrs, SECRETS_MOUNT, "bind") is None:
            return [f"source.container: {name!r} has no secrets directory mounted at {SECRETS_MOUNT}"]
        found = []
        with self.run.source.session() as session:
            ours = session.value(SYSTEM_ID_SQL)
        theirs = ContainerSession(container).value(SYSTEM_ID_SQL)
        if str(ours) != str(theirs):
            found.append(f"source.container: {name!r} runs another server than the source (system identifier "
                         f"{theirs}, the source's {ours}); give the container of the source")
        networks = [n["name"] for n in self.run.target_options()["networks"]]
        if not self.p.get("reverse_host") and not shared_networks(container, networks):
            found.append(f"reverse_replication: the source container {name!r} shares no Docker network with the "
                         f"target (which joins {networks}): give reverse_host and reverse_port (the target as the "
                         "source reaches it), or put the target on one of the source's networks (source.network)")
        return found

    def refuse_when_reverted(self, state: dict) -> None:
        if state.get("phase") == "reverted":
            raise PgdockError(f"the migration into {self.run.name!r} was reverted: the source is the primary again "
                              "and the target is read-only. To migrate again, run state aborted (it removes the "
                              "target), then start over; nothing was changed")

    # -- plans -------------------------------------------------------------------------------------
    def plan_cutover_before(self) -> list[str]:
        if not self.p["reverse_replication"]:
            return []
        return [f"create role {self.p['replication_user']!r} on the target (LOGIN REPLICATION) and a pg_hba.conf "
                "rule for it from the target's networks",
                f"write its passfile into the secrets directory of {self.p['source'].get('container')}",
                f"create publication {self.name} (the same tables) in every database on the target"]

    def plan_cutover_slots(self) -> list[str]:
        if not self.p["reverse_replication"]:
            return []
        return [f"create a logical replication slot {self.name}_<database oid> per database on the target, "
                "before it takes any write"]

    def plan_cutover_after(self) -> list[str]:
        if not self.p["reverse_replication"]:
            return []
        return [f"create subscription {self.name} per database on the source (on that slot, no copy), so that "
                "it receives every write made on the target"]

    def _plan_drop(self) -> list[str]:
        return [f"drop subscription {self.name} in every database on the source",
                f"drop the slots and publications {self.name} on the target (and the role if the migration made it)",
                "remove the passfile from the source's secrets directory"]

    # -- at cutover --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Before the fence: the role, its pg_hba.conf rule and passfile, the replica identities and
        the publications on the target (the target must run with wal_level = logical)."""
        with self._target() as target:
            level = target.value("select current_setting('wal_level')")
            if level != "logical":
                raise PgdockError(f"reverse_replication: the target runs with wal_level = {level}; it needs logical "
                                  "(a target made with reverse_replication: true has it): set target.settings "
                                  "wal_level: logical and restart the target; nothing was cut over")
            role = self.p["replication_user"]
            password = self.p.get("replication_password") or secrets.token_urlsafe(24)
            created = publisher.ensure_role(self.run, target, role, password, self._databases(), side="target",
                                            open_db=self._target)
        reverse = dict((self.run.state() or {}).get("reverse") or {}, databases=self._databases(), slots={},
                       subscribed=False)
        reverse["created_role"] = bool(created or reverse.get("created_role"))
        self.run.save_state(reverse=reverse)
        self._hba_rules(role)
        container = self.run.client.containers.get(self.p["source"]["container"])
        directory = mount_source(container.attrs, SECRETS_MOUNT, "bind")
        path = os.path.join(directory, REVERSE_PGPASS)
        uid = owner_of(directory)
        if secret_needs_write(path, pgpass_line(role, password), uid, uid):
            self.run.log.do(f"write {path} (0600, the source's passfile for the target)", write_secret, path,
                            pgpass_line(role, password), uid, uid)
        self.run.save_state(reverse=dict(reverse, passfile=path))
        identity = (self.run.state() or {}).get("identity_full") or []
        for database, tables in self.method.tables().items():
            with self._target(database) as target:
                mine = {(s, t) for d, s, t in identity if d == database}
                publisher.set_identity_full(self.run, target, database, mine, side="target")
                if not target.value("select count(*) from pg_publication where pubname = %s", [self.name]):
                    publisher.create_publication(self.run, target, database, self.name, self.method.published(tables),
                                                 side="target")

    def _hba_rules(self, role: str) -> None:
        """A scram-sha-256 rule for `role` into the migrated databases from each network of the target,
        first in its pg_hba.conf, where no rule lets it in yet."""
        databases = tuple(name_token(d) for d in self._databases())

        def satisfied(rules, subnet):
            found = [first_match(rules, d, role, subnet) for d in self._databases()]
            return all(rule is not None and rule.method != "reject" for rule in found)

        def make(kind, subnet):
            return HbaRule(kind, databases, (name_token(role),), normalise_address(subnet), "scram-sha-256")
        self.run.log.extend(ensure_first_rules(ContainerSession(self.run.target_container()), make, satisfied, False))

    def make_slots(self, sessions) -> None:
        """While writes are stopped, before the target takes any: a logical slot per database on the
        target (an earlier attempt's is dropped first: it would hold what the source wrote since)."""
        slots = {}
        for database in self._databases():
            target = sessions.target(database)
            slot = slot_name(self.name, int(target.value(DATABASE_OID_SQL)))
            publisher.drop_slots(self.run, target, [slot], [], side="target")
            self.run.log.do(f"create logical replication slot {slot} (pgoutput) in database {database!r} on the "
                            "target", target.run, "select pg_create_logical_replication_slot(%s, 'pgoutput')",
                            [slot], "creating the reverse replication slot")
            slots[database] = slot
        self.run.save_state(reverse=dict((self.run.state() or {}).get("reverse") or {}, slots=slots))

    def subscribe(self) -> None:
        """The subscriptions on the source (after the forward ones are gone: nothing loops), each on its
        slot of the target, no copy; those that exist are left."""
        reverse = (self.run.state() or {}).get("reverse") or {}
        if not reverse.get("slots"):
            return
        host, port = reverse_endpoint(self.p.get("reverse_host"), self.p["reverse_port"], self.run.name)
        name = sql.Identifier(self.name)
        for database, slot in reverse["slots"].items():
            with publisher.writable_session(self.run, database) as source:
                if publisher.subscription_exists(source, self.name):
                    continue
                connection = conninfo(host=host, port=port, user=self.p["replication_user"], dbname=database,
                                      passfile=f"{SECRETS_MOUNT}/{REVERSE_PGPASS}", sslmode="prefer")
                statement = sql.SQL("create subscription {} connection %s publication {} with ("
                                    + subscription_options(source.version) + ")").format(name, name)
                self.run.log.do(f"create subscription {self.name} in database {database!r} on the source (slot "
                                f"{slot} of the target, no copy)", source.run, statement, [connection, slot],
                                "creating the reverse subscription")
        self.run.save_state(reverse=dict(reverse, subscribed=True, host=host, port=port))

    def describe(self) -> dict | None:
        """The reverse replication as the result shows it, or None when there is none."""
        reverse = (self.run.state() or {}).get("reverse")
        if not reverse:
            return None
        return {"subscription": self.name, "slots": reverse.get("slots") or {}, "subscribed": reverse.get("subscribed"),
                "target_host": reverse.get("host"), "target_port": reverse.get("port")}

    # -- going back --------------------------------------------------------------------------------
    def revert(self, sessions) -> dict:
        """state reverted: the clients back on the source, nothing written on the target lost."""
        state = self.run.state() or {}
        if state.get("phase") == "reverted":
            if state.get("reverse"):  # an earlier run switched back but did not get to remove everything
                self.drop()
            return {"state": "reverted", "write_downtime_seconds": state.get("revert_downtime_seconds"),
                    "connection": self._source_connection()}
        reverse = self._cut_over_with_reverse(state, "reverted")
        if self.run.check_mode:
            self.run.log.extend(self._plan_revert())
            return {"state": "planned"}
        result: dict = {}
        try:
            for database in ["postgres", *reverse["databases"]]:  # before the fence: connections take time
                sessions.source(database)
                sessions.target(database)
            self.method.tables()   # read before the fence too
            target = sessions.target("postgres")

            def catch_up():
                steps = result["catch_up"] = {}
                lsn = target.value("select pg_current_wal_lsn()::text")
                timed(steps, "applied", self.method.wait_applied, target, lsn, list(reverse["slots"].values()),
                      "target")
                timed(steps, "skipped_tables", self.method.copy_skipped, sessions.target, sessions.source, "source")
                result["sequences"] = timed(steps, "sequences", self.method.sync_sequences, sessions.target,
                                            sessions.source, ("target", "source"))
                timed(steps, "source_writable", self._open_source, sessions.source("postgres"))

            timings = Cutover(self.run, target, switch_to=self._pooler_route(), side="target",
                              fenced_key="target_fenced").switch(catch_up, spare=sessions.pids("target"))
        finally:
            sessions.close()
        downtime = timings["write_downtime_seconds"]
        self.run.save_state(phase="reverted", reverted_at=now(), revert_downtime_seconds=downtime)
        self.drop()
        return {"state": "reverted", "write_downtime_seconds": downtime,
                "timings": dict(timings, catch_up_steps=result["catch_up"]), "sequences_set": result["sequences"],
                "connection": self._source_connection(),
                "note": "the source takes writes again with everything written on the target; the target stays "
                        "running and read-only (state aborted removes it)"}

    def _plan_revert(self) -> list[str]:
        steps = [f"pause pooler {self.p['pooler']}"] if self.run.pooler is not None else []
        steps += ["make the target read-only for new transactions and end its client sessions",
                  "wait until every reverse subscription has applied the target's last WAL position",
                  "copy the tables left out back to the source",
                  "set every sequence on the source from the target",
                  "let the source take writes"]
        if self.run.pooler is not None:
            steps.append(f"repoint pooler {self.p['pooler']} to {self._pooler_route()[0]} and resume it")
        return steps + self._plan_drop()

    def _open_source(self, source) -> None:
        unfence(source)
        self.run.save_state(fenced=False)
        self.run.log.add("the source takes writes again")

    def _pooler_route(self) -> tuple:
        """The source as the pooler (a container) reaches it: its route, or its container on 5432."""
        route = self.run.route
        return (self.p["source"]["container"], 5432) if route.mounts else (route.host, route.port)

    def _source_connection(self) -> dict:
        o = self.p["source"]
        return {"host": o.get("login_unix_socket") or o.get("login_host"), "port": o.get("login_port") or 5432,
                "container": o.get("container")}

    def finalize(self) -> dict:
        """state finalized: the migration declared final, the reverse replication removed."""
        state = self.run.state() or {}
        if state.get("phase") != "cut_over":
            raise PgdockError(f"state finalized: the migration into {self.run.name!r} is not cut over (phase "
                              f"{state.get('phase') or 'none'}); nothing to finalize, nothing was changed")
        if not state.get("reverse"):
            return {"state": "finalized"}
        if self.run.check_mode:
            self.run.log.extend(self._plan_drop())
            return {"state": "planned"}
        self.drop()
        self.run.save_state(finalized_at=now())
        return {"state": "finalized"}

    def _cut_over_with_reverse(self, state: dict, wanted: str) -> dict:
        reverse = state.get("reverse") or {}
        if state.get("phase") != "cut_over":
            raise PgdockError(f"state {wanted}: the migration into {self.run.name!r} is not cut over (phase "
                              f"{state.get('phase') or 'none'}): nothing to go back from (state aborted removes "
                              "the target before a cutover); nothing was changed")
        if not reverse.get("subscribed"):
            raise PgdockError(f"state {wanted}: the cutover into {self.run.name!r} ran without reverse_replication "
                              "(or it was finalized): the source has not received the writes made on the target "
                              "since, so going back would lose them; nothing was changed")
        return reverse

    def drop(self) -> None:
        """Everything of the reverse direction: the subscriptions on the source, the slots,
        publications, replica identities and (when made) the role on the target, the passfile."""
        reverse = (self.run.state() or {}).get("reverse") or {}
        databases = reverse.get("databases") or self._databases()
        for database in databases:
            with publisher.writable_session(self.run, database) as source:
                publisher.drop_subscription(self.run, source, self.name, database, "source")
        identity = (self.run.state() or {}).get("identity_full") or []
        for database in databases:
            with self._target(database) as target:
                publisher.drop_slots(self.run, target, list((reverse.get("slots") or {}).values()),
                                     [f"{self.name}\\_%"], side="target")
                publisher.drop_publication(self.run, target, self.name, database, side="target")
                for entry in identity:
                    if entry[0] == database:
                        publisher.restore_identity(self.run, target, *entry)
        role = self.p["replication_user"]
        if reverse.get("created_role"):
            with self._target() as target:
                if publisher.role_exists(target, role):
                    publisher.drop_role(self.run, target, role, databases, side="target", open_db=self._target)
        self.remove_passfile(reverse)
        self.run.save_state(reverse=None)

    def remove_passfile(self, reverse: dict) -> None:
        """The source's passfile for the target, gone from its secrets directory."""
        path = (reverse or {}).get("passfile")
        if path and os.path.exists(path):
            self.run.log.do(f"remove {path}", os.remove, path)

    # -- helpers -----------------------------------------------------------------------------------
    def _databases(self) -> list[str]:
        return list(((self.run.state() or {}).get("reverse") or {}).get("databases") or self.run.databases())

    def _target(self, database: str = "postgres"):
        """A session on the target that may write while it is read-only for clients."""
        session = self.run.target_session(database)
        session.run("set default_transaction_read_only = off")
        return session
