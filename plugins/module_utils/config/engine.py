# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.config engine: server parameters set with ALTER SYSTEM after every value
was checked against pg_settings, a reload, and a restart of the container when one is pending and
allowed."""

from __future__ import annotations

import difflib

from ansible_collections.pgdock.postgres.plugins.module_utils.config.presets import (
    MEMORY_UNITS,
    TIME_UNITS,
    ParamSpec,
    check_name,
    normalise,
    preset_settings,
    same_value,
    setting_text,
    unit_scale,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import restart_server
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import size_in_bytes
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import resolve_target
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import with_diff

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - connect() reports the missing library
    pass

SETTINGS_QUERY = "SELECT name, setting, unit, vartype, enumvals, min_val, max_val, context, source FROM pg_settings"
# every entry, also those not applied yet ("setting could not be applied" until a restart)
AUTO_CONF_QUERY = "SELECT lower(name), setting FROM pg_file_settings WHERE sourcefile LIKE %s ORDER BY seqno"


# ---------------------------------------------------------------- planning

def display(spec: ParamSpec, setting) -> str:
    """A pg_settings value the way SHOW prints it (16384 with unit 8kB -> 128MB)."""
    kind, scale = unit_scale(spec.unit)
    if kind is None or setting is None:
        return "" if setting is None else str(setting)
    try:
        amount = float(setting) * scale
    except ValueError:
        return str(setting)
    if amount <= 0:
        return str(setting)
    units = MEMORY_UNITS if kind == "memory" else TIME_UNITS
    for unit, size in sorted(units.items(), key=lambda item: -item[1]):
        if size <= amount and (amount / size).is_integer():
            return f"{int(amount / size)}{unit}"
    return f"{setting}{spec.unit}"


def spec_of(name: str, server: dict, option: str) -> ParamSpec:
    """The ParamSpec of a parameter; custom (dotted) names the server does not know are strings."""
    if name in server:
        spec = server[name][0]
        if spec.context == "internal":
            raise PgdockError(f"{option}: {name} is fixed when the server is built or initialised "
                              "and cannot be changed")
        return spec
    if "." in name:
        return ParamSpec(name=name, vartype="string", context="sighup")
    close = difflib.get_close_matches(name, list(server), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise PgdockError(f"{option}: unknown parameter {name!r} (not in pg_settings of this server){hint}")


def plan_changes(wanted: dict, reset: list, server: dict, configured: dict, skip_command_line=()) -> dict:
    """What to write: {'set': {name: (spec, text, before)}, 'reset': {name: before}, 'skipped': [...]}.

    `server`: name -> (ParamSpec, pg_settings row); `configured`: name -> text in postgresql.auto.conf.
    A parameter set on the server's command line cannot be changed by ALTER SYSTEM: an error, or
    skipped when named in `skip_command_line`. All problems are raised together, before anything
    is written.
    """
    errors, names = [], set()
    plan = {"set": {}, "reset": {}, "skipped": []}
    for raw_name, value in wanted.items():
        try:
            name = check_name(raw_name)
            names.add(name)
            spec = spec_of(name, server, "settings")
            normalise(spec, value)
            row = server[name][1] if name in server else {}
            if row.get("source") == "command line" and not same_value(spec, row["setting"], value):
                if name in skip_command_line:
                    plan["skipped"].append(name)
                    continue
                raise PgdockError(
                    f"{name} is set on the server's command line (-c {name}={display(spec, row['setting'])}, "
                    "the container's settings), which overrides ALTER SYSTEM: change it in the container's "
                    "settings (pgdock.postgres.container) instead")
            current = configured.get(name, row.get("setting"))
            if current is None or not same_value(spec, current, value):
                before = configured.get(name, display(spec, row.get("setting")) if row else None)
                plan["set"][name] = (spec, setting_text(spec, value), before)
        except PgdockError as exc:
            errors.append(str(exc) if str(exc).startswith("settings:") else f"settings: {exc}")
    for raw_name in reset:
        try:
            name = check_name(raw_name)
        except PgdockError as exc:
            errors.append(f"reset: {exc}")
            continue
        if name in names:
            errors.append(f"reset: {name} is also in settings")
        elif name in configured:
            plan["reset"][name] = configured[name]
    if errors:
        text = "; ".join(errors)
        raise PgdockError(text + (" " if text.endswith(("?", ".")) else ". ") + "Nothing was written.")
    return plan


# ---------------------------------------------------------------- the engine

def ensure_config(module) -> dict:
    """Set, reset, reload, and restart when allowed; the module's result."""
    p = module.params
    target = resolve_target(p)
    container = target.container
    if p["allow_restart"] and container is None:
        raise PgdockError("allow_restart: needs container (the server is restarted through Docker)")
    with Session(target) as session:
        server = {row["name"]: (ParamSpec.from_row(row), row) for row in session.rows(SETTINGS_QUERY, dicts=True)}
        configured = auto_conf(session)
        wanted, preset = desired_settings(p, server, container)
        plan = plan_changes(wanted, p["reset"] or [], server, configured, skip_command_line=set(preset))
        for name in plan["skipped"]:
            module.warn(f"preset: {name} is set on the server's command line (the container's settings), "
                        "which overrides the preset's value; left as it is")
        statements = [(name, alter_set(name, text)) for name, (_spec, text, _before) in plan["set"].items()]
        statements += [(name, alter_reset(name)) for name in plan["reset"]]
        changes = {name: dict(before=before, after=text) for name, (_spec, text, before) in plan["set"].items()}
        result = dict(changed=bool(statements), preset=preset, preset_skipped=plan["skipped"], changes=changes,
                      reset=sorted(plan["reset"]), restarted=False,
                      queries=[statement.as_string(session.conn) for _name, statement in statements])
        with_diff(result, module._diff, {**{n: c["before"] for n, c in changes.items()}, **plan["reset"]},
                  {**{n: c["after"] for n, c in changes.items()}, **dict.fromkeys(plan["reset"])})
        if module.check_mode:
            restart_params = {n for n, (spec, _text, _before) in plan["set"].items() if spec.context == "postmaster"}
            pending = pending_restart(session) | restart_params
        else:
            apply_statements(session, statements, configured)
            if statements:
                session.reload_and_wait()
            pending = pending_restart(session)
    result["pending_restart"] = sorted(pending)
    if pending and p["allow_restart"]:
        result.update(changed=True, restarted=True)
        if not module.check_mode:
            restart_server(container, p["wait_timeout"], p.get("stop_timeout"))
            with Session(target) as session:
                result["pending_restart"] = sorted(pending_restart(session))
    return result


def auto_conf(session) -> dict:
    """name -> value of the parameters set in postgresql.auto.conf (ALTER SYSTEM)."""
    return dict(session.rows(AUTO_CONF_QUERY, ("%/postgresql.auto.conf",)))


def pending_restart(session) -> set:
    """Parameters whose new value waits for a restart. One set on the server's command line (the
    container's settings) is not: a restart keeps the command line's value, yet after any reload the
    server flags it whenever postgresql.conf holds another value."""
    return {row[0] for row in session.rows(
        "SELECT name FROM pg_settings WHERE pending_restart AND source <> 'command line'")}


def desired_settings(p: dict, server: dict, container) -> tuple[dict, dict]:
    """(settings to apply: the preset's overridden by `settings`, the preset's own settings)."""
    settings = p.get("settings") or {}
    if not p.get("preset"):
        return dict(settings), {}
    connections = settings.get("max_connections") or server.get("max_connections", (None, {}))[1].get("setting")
    try:
        connections = int(connections)
    except (TypeError, ValueError):
        connections = 100
    preset = preset_settings(p["preset"], memory_for_preset(p, container), connections)
    wanted = {name: value for name, value in preset.items() if name not in {str(k).lower() for k in settings}}
    wanted.update(settings)
    return wanted, preset


def memory_for_preset(p: dict, container) -> int:
    """Bytes a preset sizes for: preset_memory, else the container's memory limit."""
    if p.get("preset_memory"):
        try:
            return size_in_bytes(p["preset_memory"], "preset_memory")
        except ValueError as exc:
            raise PgdockError(str(exc)) from None
    limit = ((container.attrs.get("HostConfig") or {}).get("Memory") or 0) if container is not None else 0
    if not limit:
        raise PgdockError("preset: needs the memory the server may use: give the container a memory limit "
                          "(pgdock.postgres.container memory) or set preset_memory")
    return int(limit)


def alter_set(name: str, text: str):
    """ALTER SYSTEM SET name = 'text'."""
    return sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(*name.split(".")), sql.Literal(text))


def alter_reset(name: str):
    """ALTER SYSTEM RESET name."""
    return sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(*name.split(".")))


def apply_statements(session, statements: list, configured: dict) -> None:
    """Run the ALTER SYSTEMs one by one; when one fails, put back the ones already applied."""
    done = []
    for name, statement in statements:
        try:
            session.run(statement, what=f"setting {name}")
        except PgdockError as exc:
            for undo in reversed(done):
                previous = configured.get(undo)
                session.run(alter_reset(undo) if previous is None else alter_set(undo, previous),
                            what=f"reverting {undo}")
            reverted = f"; reverted {', '.join(done)}" if done else ""
            raise PgdockError(f"{exc}{reverted}") from None
        done.append(name)
