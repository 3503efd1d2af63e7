"""Stand-in for get-pip.py, which ansible-test downloads from a host that is not a package registry
(unreachable here). It bootstraps pip with the standard library's ensurepip, then installs the
packages ansible-test asks for from PyPI. tests/ansible-test.sh puts it in ansible-test's cache."""

import subprocess
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
                      stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                       *[arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]])
