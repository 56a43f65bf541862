# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared controller-side frame for the iis.ccs action plugins.

Each module's action plugin supplies its argument spec (the one the module's
documentation is checked against) and an ``execute`` function. This class does the
rest the same way for every module: argument validation, a host operation runner
on the task's connection, translation of known errors into task failures, and a
last scrub that removes every no_log value from everything returned.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.iis.ccs.plugins.plugin_utils._core.arg_types import wrong_type_errors
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostConnectionLost, HostOperationError, HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._core.plain_args import plain_args


class UserInputError(Exception):
    """Input that must be fixed by the user; raised before anything changes."""


class ModuleFailure(Exception):
    """A failure with extra result keys (for example per-replica status)."""

    def __init__(self, message: str, **result: t.Any) -> None:
        super().__init__(message)
        self.result = result


class TaskContext(t.NamedTuple):
    params: dict[str, t.Any]
    check_mode: bool
    diff: bool
    host: str
    task_vars: dict[str, t.Any]


class CcsActionBase(ActionBase):
    """Base for every iis.ccs action plugin."""

    TRANSFERS_FILES = False
    _requires_connection = True

    # Subclasses set these.
    ARGUMENT_SPEC: t.ClassVar[dict[str, t.Any]] = {}

    def execute(self, context: TaskContext, runner: HostOperationRunner) -> dict[str, t.Any]:
        raise NotImplementedError

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        spec = dict(self.ARGUMENT_SPEC)
        wrong_types = wrong_type_errors(spec["argument_spec"], self._task.args)
        if wrong_types:
            # Before ansible-core's validation, which would turn a list into its text or name an internal class.
            result.update(failed=True, changed=False, msg="Invalid arguments: " + "; ".join(wrong_types))
            return t.cast(dict[str, t.Any], result)
        validator = ArgumentSpecValidator(**spec)
        # The validator deep-copies what it gets; tagged strings copy slowly, hundreds of host names noticeably.
        validation = validator.validate(plain_args(dict(self._task.args)))
        no_log_values = set(validation._no_log_values)
        if validation.error_messages:
            result.update(failed=True, msg="Invalid arguments: " + "; ".join(validation.error_messages))
            return _scrub(result, no_log_values)

        host = str(task_vars.get("inventory_hostname") or getattr(self._play_context, "remote_addr", "") or "host")
        context = TaskContext(
            params=validation.validated_parameters,
            check_mode=bool(self._task.check_mode),
            diff=bool(self._task.diff),
            host=host,
            task_vars=task_vars,
        )
        runner = HostOperationRunner(self._connection, host)
        try:
            result.update(self.execute(context, runner))
        except UserInputError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        except ModuleFailure as exc:
            result.update(exc.result)
            result.update(failed=True, msg=str(exc))
        except HostConnectionLost as exc:
            # Ansible's own verdict for a broken connection: the host is unreachable for the rest of the play.
            raise AnsibleConnectionFailure(str(exc)) from exc
        except HostOperationError as exc:
            result.update(failed=True, msg=str(exc), operation=exc.operation)
        result.setdefault("changed", False)
        if validation._warnings:
            result.setdefault("warnings", []).extend(w["warning"] if isinstance(w, dict) else str(w) for w in validation._warnings)
        return _scrub(result, no_log_values)


def _scrub(result: dict[str, t.Any], no_log_values: set[str]) -> dict[str, t.Any]:
    # Action plugins do not get AnsibleModule's automatic masking, so apply the
    # same masking to the whole result, including messages, diffs and warnings.
    if not no_log_values:
        return result
    return t.cast(dict[str, t.Any], remove_values(result, no_log_values))
