# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shell scripts an in-place upgrade runs in throw-away containers, every value an argument
($1, $2...; none is interpolated), and the readers of their output.

PROBE       the volume (read-only at /probe): its clusters, and the upgrade's marker in the new one
NEW_IMAGE   the new server image: the settings its server knows, the extensions it ships
BINARIES    the helper image: both majors' programs present, and their versions
INITDB      the new cluster, beside (or inside) the old one in the same volume
UPGRADE     pg_upgrade --check, then pg_upgrade, then the old cluster's configuration files
HAND_BACK   after a failure before the new server started: the old cluster made startable again"""

from __future__ import annotations

import re

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import PROBE_SCRIPT

MARKER = "pgdock_upgrade"  # in the new cluster's directory until its server has started: initdb | upgraded
CHECK_FAILED, UPGRADE_FAILED = 3, 4  # UPGRADE's exit codes when pg_upgrade failed

# $1 the new cluster's directory relative to the volume
PROBE = f'({PROBE_SCRIPT}); printf "marker %s\\n" "$(cat "/probe/$1/{MARKER}" 2>/dev/null)"'

# $1 the extension directory
NEW_IMAGE = 'postgres --describe-config | cut -f1; echo "--extensions--"; ls "$1" 2>/dev/null | sed -n "s/\\.control$//p"'

# $1 old bindir, $2 new bindir
BINARIES = ('for b in "$1/postgres" "$1/pg_ctl" "$1/pg_controldata" "$2/pg_upgrade" "$2/initdb" "$2/postgres"; do '
            '[ -x "$b" ] || echo "missing $b"; done; '
            '[ -x "$1/postgres" ] && echo "old $("$1/postgres" -V)"; [ -x "$2/postgres" ] && echo "new $("$2/postgres" -V)"; '
            'exit 0')

# $1 the new cluster's directory, $2 new bindir, then initdb's arguments
INITDB = (f'd=$1; bin=$2; shift 2; rm -rf "$d"; mkdir -p "$d"; chmod 700 "$d"; '
          f'"$bin/initdb" -D "$d" "$@"; echo initdb > "$d/{MARKER}"')

# $1 old cluster, $2 new cluster, $3 old bindir, $4 new bindir, $5 install user, $6 transfer mode,
# $7 jobs, $8 lines for postgresql.conf, $9 postgresql.auto.conf. Both servers that pg_upgrade starts
# accept only this container's socket (trust; listen_addresses is empty and the socket 0700).
UPGRADE = f'''
old=$1 new=$2 oldbin=$3 newbin=$4 user=$5 mode=$6 jobs=$7 conf=$8 auto=$9
cd /tmp
printf 'local all all trust\\n' > /tmp/pgdock-upgrade-hba.conf
o="-c hba_file=/tmp/pgdock-upgrade-hba.conf"
report() {{
  for f in "$new"/pg_upgrade_output.d/*/*.txt; do [ -f "$f" ] && echo "== $(basename "$f")" && cat "$f"; done
  for f in "$new"/pg_upgrade_output.d/*/log/*.log; do [ -f "$f" ] && echo "== $(basename "$f")" && tail -n 15 "$f"; done
  return 0
}}
run() {{ "$newbin/pg_upgrade" -b "$oldbin" -B "$newbin" -d "$old" -D "$new" -U "$user" -j "$jobs" -o "$o" -O "$o" "--$mode" "$@"; }}
echo "pgdock-phase check $(date +%s.%N)"
run --check || {{ report; exit {CHECK_FAILED}; }}
echo "pgdock-phase transfer $(date +%s.%N)"
run || {{ report; exit {UPGRADE_FAILED}; }}
echo "pgdock-phase config $(date +%s.%N)"
for f in pg_hba.conf pg_ident.conf; do [ ! -f "$old/$f" ] || cp "$old/$f" "$new/$f"; done
printf '%s' "$conf" >> "$new/postgresql.conf"
printf '%s' "$auto" > "$new/postgresql.auto.conf"
echo upgraded > "$new/{MARKER}"
echo "pgdock-phase done $(date +%s.%N)"
'''

# $1 old cluster, $2 new cluster
HAND_BACK = ('if [ -f "$1/global/pg_control.old" ] && [ ! -f "$1/global/pg_control" ]; then '
             'mv "$1/global/pg_control.old" "$1/global/pg_control"; fi; '
             'rm -rf "$2"; rmdir "$(dirname "$2")" 2>/dev/null || true')

VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
# what pg_upgrade's logs may hold of a role's password (its dump restores the verifiers)
SECRET_PATTERNS = ((re.compile(r"(PASSWORD\s+)'(?:[^']|'')*'", re.I), r"\1'********'"),
                   (re.compile(r"SCRAM-SHA-256\$\S+"), "********"), (re.compile(r"\bmd5[0-9a-f]{32}\b"), "********"))


def report_lines(output: str) -> list[str]:
    """pg_upgrade's output and report lines, without the phase markers and with every password
    verifier masked."""
    lines = []
    for line in output.strip().splitlines():
        if line.startswith("pgdock-phase"):
            continue
        for pattern, replacement in SECRET_PATTERNS:
            line = pattern.sub(replacement, line)
        lines.append(line)
    return lines


def marker_of(probe_output: str) -> str:
    """The marker's content in PROBE output ('' when there is none)."""
    for line in probe_output.splitlines():
        if line.startswith("marker"):
            return line[len("marker"):].strip()
    return ""


def new_image_facts(output: str) -> tuple[set, set]:
    """(setting names, extension names) from NEW_IMAGE output."""
    settings, _sep, extensions = output.partition("--extensions--")
    return ({line.strip().lower() for line in settings.splitlines() if line.strip()},
            {line.strip() for line in extensions.splitlines() if line.strip()})


def binaries_facts(output: str) -> tuple[list[str], int | None, int | None]:
    """(missing programs, old major, new major) from BINARIES output."""
    missing, majors = [], {"old": None, "new": None}
    for line in output.splitlines():
        if line.startswith("missing "):
            missing.append(line[len("missing "):])
        for side in majors:
            if line.startswith(side + " "):
                found = VERSION.search(line)
                majors[side] = int(found.group(1)) if found else None
    return missing, majors["old"], majors["new"]


def phase_times(output: str) -> dict:
    """Seconds of each UPGRADE phase that ended (check, transfer, config) from its markers."""
    marks = [(m.group(1), float(m.group(2))) for m in re.finditer(r"^pgdock-phase (\w+) ([\d.]+)$", output, re.M)]
    return {name: round(marks[i + 1][1] - stamp, 3) for i, (name, stamp) in enumerate(marks[:-1])}
