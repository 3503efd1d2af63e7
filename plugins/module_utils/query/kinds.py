# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What kind of statement a tokenized statement is (pure), and so whether it changed something:
a read (SELECT without INTO or a locking clause, SHOW, VALUES, TABLE, EXPLAIN of a read) changes
nothing, a DML statement (INSERT, UPDATE, DELETE, MERGE, COPY) changes what it counts, anything
else (DDL, GRANT, VACUUM...) changes something. Also the transaction control a script refuses."""

from __future__ import annotations

import re

READ, DML, OTHER = "read", "dml", "other"
DML_VERBS = ("insert", "update", "delete", "merge", "copy")
QUERY_VERBS = ("select", "values", "table")
LOCKS = ("update", "share", "no", "key")  # FOR UPDATE, FOR SHARE, FOR NO KEY UPDATE, FOR KEY SHARE
FALSE_VALUES = ("false", "off", "0", "no")
TRANSACTION_CONTROL = ("begin", "start", "commit", "rollback", "end", "abort", "savepoint", "release")


def kind_of(statement) -> str:
    """READ, DML or OTHER for a statements.Statement."""
    return _kind(statement.tokens)


def _first_word(tokens: list) -> tuple:
    """(index, word) of the first word token, (None, None) when there is none."""
    for index, token in enumerate(tokens):
        if token.kind == "word":
            return index, token.word
    return None, None


def _kind(tokens: list) -> str:
    index, verb = _first_word(tokens)
    if verb in ("show", "values", "table"):
        return READ
    if verb in DML_VERBS:
        return DML
    if verb == "explain":
        return _explain_kind(tokens[index + 1:])
    if verb == "select":
        return _select_kind(tokens[index:])
    if verb == "with":
        return _with_kind(tokens[index:])
    return OTHER


def _select_kind(tokens: list) -> str:
    """A SELECT (or the main query of a WITH) reads unless it has INTO at its own level or locks rows."""
    depth = tokens[0].depth
    for token, after in zip(tokens, tokens[1:] + [None]):
        if token.word == "into" and token.depth == depth:
            return OTHER
        if token.word == "for" and after is not None and after.word in LOCKS:
            return OTHER
    return READ


def _with_kind(tokens: list) -> str:
    """WITH: the kind of its main statement; a data-modifying CTE makes a SELECT a change."""
    depth = tokens[0].depth
    for index, token in enumerate(tokens[1:], 1):
        if token.depth > depth and token.word in DML_VERBS and tokens[index - 1].text == "(":
            return OTHER
        if token.depth == depth and token.word in DML_VERBS:
            return DML
        if token.depth == depth and token.word in QUERY_VERBS:
            return _select_kind(tokens[index:])
    return OTHER


def _explain_kind(tokens: list) -> str:
    """EXPLAIN reads; EXPLAIN ANALYZE runs the statement, so it is of that statement's kind unless
    it is a DML statement (whose count EXPLAIN does not give): a change."""
    analyze, rest = _explain_options(tokens)
    if not analyze:
        return READ
    return READ if _kind(rest) == READ else OTHER


def _explain_options(tokens: list) -> tuple:
    """(whether ANALYZE is on, the explained statement's tokens)."""
    if tokens and tokens[0].text == "(":
        depth, analyze, end = tokens[0].depth + 1, False, len(tokens)
        for index, token in enumerate(tokens[1:], 1):
            if token.text == ")" and token.depth == depth - 1:
                end = index + 1
                break
            if token.word in ("analyze", "analyse"):
                value = tokens[index + 1] if index + 1 < len(tokens) else None
                analyze = value is None or value.text in (",", ")") or value.text.lower() not in FALSE_VALUES
        return analyze, tokens[end:]
    words = 0
    while words < len(tokens) and tokens[words].word in ("analyze", "analyse", "verbose"):
        words += 1
    return any(t.word in ("analyze", "analyse") for t in tokens[:words]), tokens[words:]


def transaction_control(statement) -> str | None:
    """The transaction control command a statement is (BEGIN, COMMIT, SAVEPOINT, PREPARE
    TRANSACTION...), None for any other statement."""
    words = statement.words
    if not words:
        return None
    if words[0] in TRANSACTION_CONTROL:
        return words[0].upper()
    if words[:2] == ["prepare", "transaction"]:
        return "PREPARE TRANSACTION"
    return None


def affected_rows(rowcount: int, statusmessage: str | None) -> int:
    """The rows a statement counted: the cursor's rowcount, else the number its status ends with."""
    if rowcount is not None and rowcount >= 0:
        return rowcount
    found = re.search(r"(\d+)$", statusmessage or "")
    return int(found.group(1)) if found else 0


def changed(kind: str, rowcount: int, statusmessage: str | None = None) -> bool:
    """Whether a statement of `kind` that reported `rowcount` changed something."""
    if kind == READ:
        return False
    if kind == DML:
        return affected_rows(rowcount, statusmessage) > 0
    return True
