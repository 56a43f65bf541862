"""Run ccs_cert_publish's task logic without Ansible, against SMB or local destinations (tests and benchmark).

Also a tiny CLI used by the concurrency test: ``python _publisher.py params.json ROUNDS`` publishes ROUNDS times.
"""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / "tests" / "output" / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_CERT_PUBLISH  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure, TaskContext  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import ReplicaFactory, build_replica, run_publish  # noqa: E402


class NoHost:
    """The task's host: a test that reaches it is wrong (only smb/local destinations here)."""

    round_trips = 0

    def run(self, operation: str, params: t.Any = None) -> t.Any:
        raise AssertionError(f"contacted the Windows host for {operation}")


def publish(args: t.Mapping[str, t.Any], *, check_mode: bool = False, diff: bool = False, replica_factory: ReplicaFactory = build_replica) -> dict[str, t.Any]:
    validation = ArgumentSpecValidator(**CCS_CERT_PUBLISH).validate(dict(args))
    assert not validation.error_messages, validation.error_messages
    context = TaskContext(validation.validated_parameters, check_mode, diff, "controller", {})
    try:
        return run_publish(context, NoHost(), replica_factory=replica_factory)  # type: ignore[arg-type]
    except ModuleFailure as exc:
        return dict(exc.result, failed=True, msg=str(exc))


def main() -> None:
    args = json.loads(Path(sys.argv[1]).read_text())
    for _attempt in range(int(sys.argv[2])):
        result = publish(args)
        if result.get("failed"):
            print(json.dumps(result["replicas"]), flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
