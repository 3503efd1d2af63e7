# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQL text as PostgreSQL's lexer sees it, without a server (pure): tokens that know quotes
('...', E'...', "..."), dollar quotes ($$...$$, $tag$...$tag$) and comments (--, nested /* */),
and the statements a `;` at top level ends (not one inside parentheses or in the BEGIN ATOMIC ...
END body of a CREATE FUNCTION / PROCEDURE, as psql splits them)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

IDENT_START = r"A-Za-z_\u0080-\uffff"
WORD = re.compile(rf"[{IDENT_START}][{IDENT_START}0-9$]*")
DOLLAR_TAG = re.compile(rf"\$(?:[{IDENT_START}][{IDENT_START}0-9]*)?\$")
PARAM = re.compile(r"\$[0-9]+")
NUMBER = re.compile(r"(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?")
QUOTED = ("string", "ident", "dollar")  # token kinds whose content is not SQL
BODY_OPENERS = ("begin", "case")  # words a BEGIN ATOMIC body's END closes


@dataclass
class Token:
    """One lexical token: kind (word, string, ident, dollar, number, param, punct, semicolon),
    its text as written, its offsets and the parenthesis depth it stands at."""

    kind: str
    text: str
    start: int
    end: int
    depth: int

    @property
    def word(self) -> str | None:
        """The lower-cased keyword or name for a word token, else None."""
        return self.text.lower() if self.kind == "word" else None


@dataclass
class Statement:
    """A statement of a source: its text (first token to last, without the `;`), where it starts
    (offset and 1-based line) and its tokens."""

    text: str
    start: int
    line: int
    tokens: list = field(default_factory=list)

    @property
    def words(self) -> list:
        """Its keywords and names, lower-cased, in order."""
        return [t.word for t in self.tokens if t.kind == "word"]

    @property
    def first_line(self) -> str:
        """Its first line, for a message."""
        return self.text.splitlines()[0].strip() if self.text else ""


def _closing_quote(text: str, pos: int, quote: str, backslash: bool) -> int:
    """The offset after the quote that closes the one at `pos` (doubled quotes and, in E'' strings,
    backslashes escape); len(text) when unterminated."""
    i = pos + 1
    while i < len(text):
        char = text[i]
        if backslash and char == "\\":
            i += 2
            continue
        if char == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def _block_comment_end(text: str, pos: int) -> int:
    """The offset after the */ that closes the /* at `pos` (they nest); len(text) when unterminated."""
    depth, i = 0, pos
    while i < len(text) - 1:
        pair = text[i:i + 2]
        if pair == "/*":
            depth, i = depth + 1, i + 2
        elif pair == "*/":
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(text)


def _follows_word(tokens: list, pos: int) -> bool:
    """Whether a word ends right at `pos` (a $ there continues the identifier, it opens no quote)."""
    return bool(tokens) and tokens[-1].end == pos and tokens[-1].kind == "word"


def tokenize(text: str) -> list:
    """The tokens of `text`; comments and white space are dropped, an unterminated quote or comment
    runs to the end."""
    tokens, depth, i = [], 0, 0
    while i < len(text):
        char, kind = text[i], None
        if char.isspace():
            i += 1
            continue
        if text.startswith("--", i):
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline + 1
            continue
        if text.startswith("/*", i):
            i = _block_comment_end(text, i)
            continue
        start = i
        if char == "'":
            escaped = bool(tokens) and tokens[-1].end == i and tokens[-1].text in ("E", "e")
            kind, i = "string", _closing_quote(text, i, "'", escaped)
        elif char == '"':
            kind, i = "ident", _closing_quote(text, i, '"', False)
        elif char == "$" and (tag := DOLLAR_TAG.match(text, i)) and not _follows_word(tokens, i):
            close = text.find(tag.group(), tag.end())
            kind, i = "dollar", len(text) if close < 0 else close + len(tag.group())
        else:
            for name, pattern in (("word", WORD), ("param", PARAM), ("number", NUMBER)):
                found = pattern.match(text, i)
                if found:
                    kind, i = name, found.end()
                    break
            else:
                kind, i = {";": "semicolon"}.get(char, "punct"), i + 1
        if char == ")":
            depth = max(depth - 1, 0)
        tokens.append(Token(kind, text[start:i], start, i, depth))
        if char == "(":
            depth += 1
    return tokens


def _is_routine(words: list) -> bool:
    """Whether a statement's first words are CREATE [OR REPLACE] FUNCTION|PROCEDURE."""
    head = [w for w in words[:4] if w not in ("or", "replace")]
    return len(head) >= 2 and head[0] == "create" and head[1] in ("function", "procedure")


def split(text: str) -> list:
    """The statements of `text` in order; empty ones (`;;`, only comments) are left out."""
    statements, current, words, body, line, seen = [], [], [], 0, 1, 0
    for token in tokenize(text) + [Token("semicolon", ";", len(text), len(text), 0)]:
        if token.word:
            words.append(token.word)
            if _is_routine(words):
                body += 1 if token.word in BODY_OPENERS else -1 if token.word == "end" and body else 0
        if token.kind == "semicolon" and token.depth == 0 and body == 0:
            if current:
                first, last = current[0], current[-1]
                line, seen = line + text.count("\n", seen, first.start), first.start
                statements.append(Statement(text[first.start:last.end], first.start, line, current))
            current, words, body = [], [], 0
        else:
            current.append(token)
    return statements


def code_only(statement: Statement) -> str:
    """The statement's text with the content of quotes and dollar quotes blanked (same length),
    and its comments blanked: what is SQL, for a look at placeholders."""
    chars = [" " if not c.isspace() else c for c in statement.text]
    for token in statement.tokens:
        if token.kind not in QUOTED:
            offset = token.start - statement.start
            chars[offset:offset + len(token.text)] = token.text
    return "".join(chars)
