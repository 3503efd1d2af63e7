#!/usr/bin/env bash
# Run ansible-test on a copy of this checkout laid out as ansible_collections/pgdock/postgres
# (ansible-test needs that path). Usage: tests/ansible-test.sh sanity|integration [args...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin="$repo/.venv/bin"
# outside the checkout (inside it, ansible-test would list files with the checkout's git and skip
# all), and one copy per run, so runs can go on side by side
work=$(mktemp -d "${TMPDIR:-/tmp}/pgdock-ansible-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/pgdock/postgres"
mkdir -p "$dest"
# the files git knows or would add (.gitignore and .git/info/exclude respected: no venv, build output,
# demo secrets or other working copies), those that exist
# shellcheck disable=SC2016  # the inner script's "$f" is expanded by that sh, not here
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) \
  | tar -C "$repo" --null -T - -c | tar -C "$dest" -x
# ansible-test bootstraps pip in its sanity venvs with a get-pip.py it downloads from outside any
# package registry; give it our stand-in (ensurepip + PyPI) under the name it looks for
pip_version=$("$bin/python" -c 'import re, ansible_test, pathlib; p = pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py"; print(re.search(r"pip=.([0-9.]+).", p.read_text()).group(1))')
mkdir -p "$HOME/.ansible/test/cache"
cp "$repo/tests/ansible_test_get_pip.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
cd "$dest"
export PATH="$bin:$PATH"
"$bin/ansible-test" "$@"
