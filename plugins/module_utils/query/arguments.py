# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""positional_args and named_args matched to the %s / %(name)s placeholders of statements (pure),
as psycopg2 will read them: with arguments every % in the text is a placeholder or %% (a literal
%); without them % is plain text, and a placeholder in the SQL (outside quotes and comments) means
arguments are missing."""

from __future__ import annotations

import re

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.query.statements import code_only

PERCENT = re.compile(r"%(?:(?P<literal>%)|(?P<positional>s)|\((?P<name>[^()]*)\)s|(?P<other>.?))", re.S)


def placeholders(text: str) -> tuple:
    """(number of %s, names of %(name)s in order, the stray % sequences) in `text`."""
    positional, names, stray = 0, [], []
    for found in PERCENT.finditer(text):
        if found.group("positional"):
            positional += 1
        elif found.group("name") is not None:
            names.append(found.group("name"))
        elif not found.group("literal"):
            stray.append(found.group())
    return positional, names, stray


def bind(statements: list, positional_args: list | None, named_args: dict | None, option: str) -> list:
    """Each statement's parameters for psycopg2 (None for all when no arguments, or empty ones, are given):
    positional arguments are dealt out in order, named ones go to every statement. A mismatch is a
    PgdockError naming `option` (query, or script)."""
    if not positional_args and not named_args:
        _refuse_placeholders(statements, option)
        return [None] * len(statements)
    found = [placeholders(statement.text) for statement in statements]
    stray = sorted({s for _p, _n, strays in found for s in strays})
    if stray:
        raise PgdockError(f"{option}: with positional_args or named_args every % is a placeholder (%s, %(name)s) "
                          f"or %% for a literal %; found {', '.join(repr(s) for s in stray)}: write a literal % as %%")
    used = sum(count for count, _n, _s in found)
    names = {name for _c, used_names, _s in found for name in used_names}
    if positional_args:
        if names:
            raise PgdockError(f"{option}: positional_args fill %s placeholders, but the text has %(name)s ones "
                              f"({', '.join(sorted(names))}): use named_args for them")
        if not used:
            raise PgdockError(f"{option}: positional_args are given but the text has no %s placeholder")
        if used != len(positional_args):
            raise PgdockError(f"{option}: {used} %s placeholder(s) but {len(positional_args)} positional_args")
        params, taken = [], 0
        for count, _names, _stray in found:
            params.append(tuple(positional_args[taken:taken + count]))
            taken += count
        return params
    if used:
        raise PgdockError(f"{option}: named_args fill %(name)s placeholders, but the text has {used} %s: "
                          "use positional_args, or name them")
    if not names:
        raise PgdockError(f"{option}: named_args are given but the text has no %(name)s placeholder")
    missing = sorted(names - set(named_args))
    if missing:
        raise PgdockError(f"{option}: named_args has no value for {', '.join('%(' + n + ')s' for n in missing)}")
    return [dict(named_args) for _statement in statements]


def _refuse_placeholders(statements: list, option: str) -> None:
    """A placeholder in the SQL itself (not in a quote or a comment) with no arguments to fill it."""
    for statement in statements:
        count, names, _stray = placeholders(code_only(statement))
        if count or names:
            raise PgdockError(f"{option}: the statement at line {statement.line} has placeholders (%s or "
                              "%(name)s) but neither positional_args nor named_args is given")
