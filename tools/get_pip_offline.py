# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the get-pip script ansible-test downloads into each sanity venv.

tools/test copies this file to ``$HOME/.ansible/test/cache/get_pip_<version>.py`` (the
cache name ansible-test looks for first), because the host ansible-test downloads it from
is not reachable here. It bootstraps pip from the interpreter's bundled wheel and then
installs the packages ansible-test asked for, through the normally configured indexes.
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that plain "pip install" does not know.
_GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main() -> None:
    arguments = [arg for arg in sys.argv[1:] if arg not in _GET_PIP_ONLY]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    subprocess.check_call([sys.executable, "-m", "pip", "install", *arguments])


if __name__ == "__main__":
    main()
