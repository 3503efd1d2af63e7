# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_hba.conf as an ordered list of rules: the rule model, parsing and rendering the file, the
default rules of a new server, and the text the diff shows. Pure logic, no server."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ansible_collections.pgdock.postgres.plugins.module_utils.addresses import is_ip
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

HOST_TYPES = ("host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc")
TYPES = ("local",) + HOST_TYPES
ADDRESS_KEYWORDS = ("all", "samehost", "samenet")
HEADER = ("# pg_hba.conf written by pgdock.postgres.hba; it replaces this file on every change.\n"
          "# TYPE  DATABASE  USER  ADDRESS  METHOD  [OPTIONS]\n")
UNQUOTED_RE = re.compile(r'^[^\s,"#]+$')
HOSTNAME_RE = re.compile(r"^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
WIDTHS = (10, 16, 16, 24, 14)


@dataclass(frozen=True)
class HbaRule:
    """One pg_hba.conf line. database/user hold tokens as written in the file (quoted when needed);
    options are sorted (name, value) pairs, so rules compare regardless of option order."""

    type: str
    database: tuple
    user: tuple
    address: str | None
    method: str
    options: tuple = ()

    def render(self) -> str:
        """The rule as a pg_hba.conf line, in aligned columns."""
        cells = [self.type, ",".join(self.database), ",".join(self.user), self.address or "", self.method]
        line = "".join(cell.ljust(width) + " " if len(cell) < width else cell + " "
                       for cell, width in zip(cells, WIDTHS))
        options = " ".join(f"{key}={quote(value)}" for key, value in self.options)
        return (line + options).rstrip()

    def as_dict(self) -> dict:
        """The rule in the module's option shape."""
        return dict(type=self.type, database=list(self.database), user=list(self.user),
                    address=self.address, method=self.method, options=dict(self.options))


# ---------------------------------------------------------------- tokens

def quote(text: str, force: bool = False) -> str:
    """A token as pg_hba.conf needs it: quoted (quotes doubled) when `force`d or when it holds a
    space, comma, quote or '#', or is empty."""
    if UNQUOTED_RE.match(text) and not force:
        return text
    return '"' + text.replace('"', '""') + '"'


def name_token(value: str, keywords=("all", "sameuser", "samerole", "samegroup", "replication")) -> str:
    """A database or user name as a canonical token: a value that starts with a double quote is
    taken as already quoted; a quoted token that needs no quotes loses them unless it is a keyword
    (quoting a keyword makes it a plain name)."""
    value = str(value).strip()
    if not value.startswith('"'):
        return quote(value)
    inner = unquote(value)
    return quote(inner, force=inner in keywords)


def unquote(token: str) -> str:
    """The text of a token, quotes removed and doubled quotes inside quotes undone."""
    out, in_quote, i = [], False, 0
    while i < len(token):
        char = token[i]
        if char == '"' and in_quote and token[i + 1:i + 2] == '"':
            out.append('"')
            i += 2
            continue
        if char == '"':
            in_quote = not in_quote
        else:
            out.append(char)
        i += 1
    return "".join(out)


def tokenize(line: str) -> list[str]:
    """Split a pg_hba.conf line into raw tokens (quotes kept), stopping at an unquoted '#'."""
    tokens, current, in_quote, i = [], "", False, 0
    while i < len(line):
        char = line[i]
        if char == '"':
            if in_quote and line[i + 1:i + 2] == '"':
                current += '""'
                i += 2
                continue
            in_quote = not in_quote
            current += char
        elif not in_quote and char == "#":
            break
        elif not in_quote and char.isspace():
            if current:
                tokens.append(current)
            current = ""
        else:
            current += char
        i += 1
    if current:
        tokens.append(current)
    return tokens


def split_list(token: str) -> list[str]:
    """A comma-separated token ('a,"b,c"') as its elements, each still quoted as written."""
    parts, current, in_quote = [], "", False
    for char in token:
        if char == '"':
            in_quote = not in_quote
        if char == "," and not in_quote:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part]


def normalise_address(value: str, mask: str | None = None) -> str:
    """An address in canonical form: a CIDR network (a bare IP gets /32 or /128, an IP and mask
    become CIDR), a keyword, or a host name in lower case. ValueError when it is none of those."""
    text = str(value).strip()
    if mask is not None:
        return str(ipaddress.ip_network(f"{text}/{mask}", strict=False))
    if text in ADDRESS_KEYWORDS:
        return text
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    if HOSTNAME_RE.match(text):
        return text.lower()
    raise ValueError(f"{text!r} is not a CIDR address, all, samehost, samenet or a host name")


# ---------------------------------------------------------------- rules from options and from the file

def rule_from_option(entry: dict, where: str) -> HbaRule:
    """A rule from the module's option shape; PgdockError names `where` (e.g. 'rules[2]')."""
    kind = entry.get("type") or "host"
    if kind not in TYPES:
        raise PgdockError(f"{where}: type {kind!r} is not one of {', '.join(TYPES)}")
    method = str(entry.get("method") or "").strip()
    if not method or not UNQUOTED_RE.match(method):
        raise PgdockError(f"{where}: method {method!r} is not an authentication method name")
    databases = [name_token(v) for v in _as_list(entry.get("database"))]
    users = [name_token(v) for v in _as_list(entry.get("user"))]
    address = entry.get("address")
    if kind == "local":
        if address:
            raise PgdockError(f"{where}: a local rule (Unix socket) takes no address")
        address = None
    else:
        if not address:
            raise PgdockError(f"{where}: a {kind} rule needs an address (CIDR such as 10.0.0.0/8, or all)")
        try:
            address = normalise_address(address)
        except ValueError as exc:
            raise PgdockError(f"{where}: address {exc}") from None
    options = []
    for key, value in (entry.get("options") or {}).items():
        if not re.match(r"^[A-Za-z_]+$", str(key)):
            raise PgdockError(f"{where}: option name {key!r} is not valid")
        options.append((str(key), _option_value(value)))
    return HbaRule(kind, tuple(databases), tuple(users), address, method, tuple(sorted(options)))


def _as_list(value) -> list:
    if value is None or value == [] or value == "":
        return ["all"]
    return list(value) if isinstance(value, (list, tuple)) else split_list(str(value))


def _option_value(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def parse_hba(text: str) -> tuple[list[HbaRule], list[str]]:
    """The rules of a pg_hba.conf text, and the lines that are not plain rules (include
    directives, lines this parser cannot read) as written."""
    rules, others = [], []
    for line in _logical_lines(text):
        tokens = tokenize(line)
        if not tokens:
            continue
        try:
            rules.append(_rule_from_tokens(tokens))
        except (ValueError, IndexError):
            others.append(line.strip())
    return rules, others


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined."""
    lines, pending = [], ""
    for raw in (text or "").splitlines():
        if raw.rstrip().endswith("\\") and not raw.lstrip().startswith("#"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def _rule_from_tokens(tokens: list[str]) -> HbaRule:
    kind = tokens[0]
    if kind not in TYPES:
        raise ValueError(kind)
    databases = tuple(name_token(t) for t in split_list(tokens[1]))
    users = tuple(name_token(t) for t in split_list(tokens[2]))
    rest = tokens[3:]
    address = None
    if kind != "local":
        address_token = unquote(rest.pop(0))
        mask = None
        if "/" not in address_token and rest and is_ip(address_token) and is_ip(rest[0]):
            mask = rest.pop(0)
        address = normalise_address(address_token, mask)
    method = rest.pop(0)
    options = []
    for token in rest:
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(token)
        options.append((key, unquote(value)))
    return HbaRule(kind, databases, users, address, method, tuple(sorted(options)))


# ---------------------------------------------------------------- the file and the defaults

def render_hba(rules: list[HbaRule]) -> str:
    """The whole pg_hba.conf for `rules`."""
    return HEADER + "".join(rule.render() + "\n" for rule in rules)


def rules_text(rules: list[HbaRule], others: list[str] = ()) -> str:
    """The rules one per line (and any lines that are not rules), as the diff shows them."""
    return "".join(rule.render() + "\n" for rule in rules) + "".join(line + "\n" for line in others)


def cert_login_rules(subnets: list[str], database: str, user: str) -> list[HbaRule]:
    """``hostssl <database> <user> <subnet> cert`` for each subnet: a role that logs in with a TLS
    client certificate (CN = role) and has no password (the pooler's lookup role)."""
    return [HbaRule("hostssl", (name_token(database),), (name_token(user),), normalise_address(subnet), "cert")
            for subnet in subnets]


def default_rules(superuser: str, subnets: list[str], replication_user: str | None = None,
                  require_ssl: bool = True, extra: list[HbaRule] = (), extra_position: str = "before_reject",
                  method: str = "scram-sha-256", cert_logins: list[dict] = ()) -> list[HbaRule]:
    """The rules of a new server, in order:

    - ``hostssl <database> <user> <subnet> cert`` for each of `cert_logins` ({database, user}), first;
    - Unix socket: ``local all postgres peer`` when the superuser is named postgres (the image's OS
      user may then use psql in the container without a password), then ``local all all`` with a
      password: a superuser of another name has no OS user of its own, so peer would not map it;
    - TCP on the container's loopback (127.0.0.1/32, ::1/128) with a password;
    - ``hostssl all all <subnet>`` for each Docker network subnet of the container (``host`` when
      `require_ssl` is false); connections from the Docker host through the published port come
      from the network's gateway, which is inside the subnet;
    - ``hostssl replication <replication_user>,<superuser> <subnet>``: standbys stream as the
      replication user; physical backups (pg_basebackup, pg_receivewal) connect as the superuser,
      which the network rules already let in for everything else;
    - `extra` rules, first or just before the reject rules;
    - ``hostnossl all all all reject`` then ``host all all all reject``: everything else is refused.
    """
    if not subnets:
        raise PgdockError("default_rules: the container is on no Docker network with a subnet")
    net_type = "hostssl" if require_ssl else "host"
    rules = []
    for login in cert_logins:
        rules += cert_login_rules(subnets, login["database"], login["user"])
    if superuser == "postgres":
        rules.append(HbaRule("local", ("all",), ("postgres",), None, "peer"))
    rules.append(HbaRule("local", ("all",), ("all",), None, method))
    rules += [HbaRule("host", ("all",), ("all",), loopback, method) for loopback in ("127.0.0.1/32", "::1/128")]
    rules += [HbaRule(net_type, ("all",), ("all",), normalise_address(subnet), method) for subnet in subnets]
    replication_users = tuple(dict.fromkeys(name_token(u) for u in (replication_user, superuser) if u))
    rules += [HbaRule(net_type, ("replication",), replication_users, normalise_address(subnet), method)
              for subnet in subnets]
    reject = [HbaRule("hostnossl", ("all",), ("all",), "all", "reject"),
              HbaRule("host", ("all",), ("all",), "all", "reject")]
    if extra_position == "first":
        return list(extra) + rules + reject
    return rules + list(extra) + reject


def names_match(rule: HbaRule, database: str, user: str) -> bool:
    """Whether `rule`'s database and user columns take `user` connecting to `database`
    ("replication" for streaming, which only the replication keyword takes)."""
    if database == "replication":
        if "replication" not in rule.database:
            return False
    elif "all" not in rule.database and name_token(database) not in rule.database:
        return False
    return "all" in rule.user or name_token(user) in rule.user


def first_local_match(rules: list[HbaRule], database: str, user: str) -> HbaRule | None:
    """The first `local` rule that a socket connection of `user` to `database` matches, or None."""
    return next((rule for rule in rules if rule.type == "local" and names_match(rule, database, user)), None)


def first_match(rules: list[HbaRule], database: str, user: str, subnet: str) -> HbaRule | None:
    """The first TCP rule that a connection of `user` to `database` ("replication" for streaming)
    from an address of `subnet` matches; None when no rule does."""
    network = ipaddress.ip_network(subnet, strict=False)
    for rule in rules:
        if rule.type not in ("host", "hostssl") or not names_match(rule, database, user):
            continue
        if rule.address not in ("all", "samenet"):
            try:
                if not network.subnet_of(ipaddress.ip_network(rule.address, strict=False)):
                    continue
            except (ValueError, TypeError):
                continue
        return rule
    return None


def allows_replication(rules: list[HbaRule], user: str, subnet: str) -> bool:
    """Whether a rule before any reject lets `user` connect for replication from `subnet`."""
    rule = first_match(rules, "replication", user, subnet)
    return rule is not None and rule.method != "reject"
