"""Observations of the open-question tests, for tools/windows-check's report (one JSON line each)."""

from __future__ import annotations

import json
import os
import typing as t

import pytest


class Observer:
    """Records the answer to one open question (tests/windows/questions.py) for tools/windows-check's report."""

    def __init__(self, question: str) -> None:
        from questions import BY_ID

        assert question in BY_ID, f"{question!r} is not in tests/windows/questions.py"
        self.question = question

    def record(self, status: str, value: t.Any, detail: str = "") -> None:
        path = os.environ.get("IIS_CCS_WINDOWS_OBSERVATIONS")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"id": self.question, "status": status, "value": value, "detail": detail}, default=str) + "\n")

    def answered(self, value: t.Any, detail: str = "") -> None:
        status = "answered by the lab (emulated: proves the harness only)" if on_lab() else "answered"
        self.record(status, value, detail)

    def needs_real_host(self, why: str = "only PowerShell on Windows answers this; the lab runs only the collection's operations") -> None:
        self.record("needs a real host", None, why)
        pytest.skip(f"{self.question}: needs a real host ({why})")

    def needs_configuration(self, what: str) -> None:
        self.record("needs configuration", None, what)
        pytest.skip(f"{self.question}: needs configuration ({what})")


def on_lab() -> bool:
    return os.environ.get("IIS_CCS_WINDOWS_TARGET", "") == "lab"
