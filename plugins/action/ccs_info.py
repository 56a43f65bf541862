# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of iis.ccs.ccs_info."""

from __future__ import annotations

import typing as t

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_INFO
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import CcsActionBase, TaskContext
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._info.gather import gather_info


class ActionModule(CcsActionBase):
    ARGUMENT_SPEC = CCS_INFO

    def execute(self, context: TaskContext, runner: HostOperationRunner) -> dict[str, t.Any]:
        return gather_info(runner, context.params)
