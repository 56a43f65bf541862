#!/usr/bin/env python
"""Fail a pytest run that skipped more than it may: tools/test runs this on each pytest log.

A skip hides whatever the test would have caught, so only two kinds are expected: the opt-in
real-Windows tests (tests/windows, skipped unless IIS_CCS_WINDOWS_HOST is set) and the tools a run
leaves out on purpose (IIS_CCS_WITHOUT_TOOLS, set by tools/test for the oldest run only). Every
skip is printed; any other skip (a missing openssl, smbd, idna, a module file...) fails the step.

Usage: skip_budget.py PYTEST_LOG   (the log of a pytest run with -rs)
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

# "SKIPPED [3] tests/windows/conftest.py:62: real-Windows test: set IIS_CCS_WINDOWS_HOST ..."
SKIP_LINE = re.compile(r"^SKIPPED \[(\d+)\] (\S+?):\d+: (.*)$")


def classify(path: str, reason: str) -> str | None:
    """Why a skip is expected, or None."""
    if path.startswith("tests/windows/") and not os.environ.get("IIS_CCS_WINDOWS_HOST"):
        return "real Windows"
    left_out = [tool for tool in os.environ.get("IIS_CCS_WITHOUT_TOOLS", "").split(",") if tool]
    if "IIS_CCS_WITHOUT_TOOLS" in reason and any(reason.startswith(f"{tool}:") for tool in left_out):
        return "left out of this run"
    return None


def main(log: Path) -> int:
    expected = unexpected = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = SKIP_LINE.match(line.strip())
        if not match:
            continue
        count, path, reason = int(match.group(1)), match.group(2), match.group(3)
        kind = classify(path, reason)
        print(f"skip x{count} [{kind or 'NOT EXPECTED'}] {path}: {reason}")
        if kind:
            expected += count
        else:
            unexpected += count
    print(f"skip budget: {expected} expected skips, {unexpected} over budget")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
