# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback of the iis.ccs test lab: appends every task result as a JSON line to $IIS_LAB_RESULTS_FILE."""

from __future__ import annotations

DOCUMENTATION = r"""
name: lab_results
type: aggregate
short_description: Write task results as JSON lines for the iis.ccs lab tests
description:
  - Writes nothing unless the environment variable C(IIS_LAB_RESULTS_FILE) is set.
author: iis.ccs contributors
"""

import json
import os
import typing as t

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lab_results"
    CALLBACK_NEEDS_ENABLED = False

    def _write(self, status: str, result: t.Any) -> None:
        path = os.environ.get("IIS_LAB_RESULTS_FILE")
        if not path:
            return
        record = {
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "action": result._task.action,
            "status": status,
            "result": self._clean(result._result),
        }
        # Newer ansible-core strips 'failed' from results given to callbacks; put it back for assertions.
        record["result"]["failed"] = status == "failed"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    @staticmethod
    def _clean(data: t.Any) -> t.Any:
        return json.loads(json.dumps(data, default=str))

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._write("ok", result)

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._write("failed", result)

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._write("skipped", result)

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._write("unreachable", result)
