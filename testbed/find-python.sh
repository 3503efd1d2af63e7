#!/usr/bin/env bash
# Print the path of a Python >= 3.12 (ansible-core 2.21 needs it), preferring 3.12 (what CI and
# `ansible-test sanity --python 3.12` use): PGDOCK_PYTHON, then PATH, then pyenv's versions.
set -euo pipefail
ok() { "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for cand in "${PGDOCK_PYTHON:-}" python3.12 "$root"/versions/3.12*/bin/python3 \
            python3.13 python3 "$root"/versions/3.1[3-9]*/bin/python3; do
  [ -n "$cand" ] || continue
  path=$(command -v "$cand" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
echo "no Python >= 3.12 found: install one (e.g. pyenv install 3.12) or set PGDOCK_PYTHON" >&2
exit 1
