"""Plain copies of task arguments for validation: tagged strings become str, vaulted ones keep their tag."""

from __future__ import annotations

import types
import typing as t

from ansible._internal._datatag._tags import Origin, VaultedValue
from ansible.module_utils._internal._datatag import AnsibleTaggedObject
from ansible.parsing.vault import VaultHelper

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import CcsActionBase, TaskContext
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._core.plain_args import plain_args

ORIGIN = Origin(path="/srv/inventory/group_vars/ccs_farm.yml", line_num=3, col_num=7)
CIPHERTEXT = "$ANSIBLE_VAULT;1.1;AES256\n6162636465"


def test_tagged_strings_in_nested_containers_become_plain_equal_strings() -> None:
    names = [ORIGIN.tag("www.contoso.test"), ORIGIN.tag("api.contoso.test")]
    copied = plain_args({"bindings": [{"site": ORIGIN.tag("Default Web Site"), "host_names": names, "port": 443}]})
    assert copied == {"bindings": [{"site": "Default Web Site", "host_names": ["www.contoso.test", "api.contoso.test"], "port": 443}]}
    strings = [copied["bindings"][0]["site"], *copied["bindings"][0]["host_names"]]
    assert not any(isinstance(value, AnsibleTaggedObject) for value in strings)
    assert isinstance(names[0], AnsibleTaggedObject)  # the test's input was tagged


def test_a_string_from_vault_keeps_its_ciphertext() -> None:
    secret = VaultedValue(ciphertext=CIPHERTEXT).tag("Pa55-word")
    copied = plain_args({"password": secret, "other": None, "count": 2})
    assert copied["password"] is secret
    assert VaultHelper.get_ciphertext(copied["password"], with_tags=False) == CIPHERTEXT
    assert copied == {"password": "Pa55-word", "other": None, "count": 2}


class Recorder(CcsActionBase):
    ARGUMENT_SPEC: t.ClassVar[dict[str, t.Any]] = {"argument_spec": {
        "names": {"type": "list", "elements": "str", "required": True},
        "password": {"type": "str", "no_log": True},
    }}
    seen: t.ClassVar[list[dict[str, t.Any]]] = []

    def execute(self, context: TaskContext, runner: HostOperationRunner) -> dict[str, t.Any]:
        self.seen.append(context.params)
        return {"msg": f"names {', '.join(context.params['names'])} with {context.params['password']}"}


def run_recorder(args: dict[str, t.Any]) -> dict[str, t.Any]:
    task = types.SimpleNamespace(args=args, async_val=0, check_mode=False, diff=False, action="recorder")
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/tmp"))
    action = Recorder(task, connection, types.SimpleNamespace(remote_addr="web01"), None, None)  # type: ignore[arg-type]
    return action.run(task_vars={"inventory_hostname": "web01"})


def test_the_action_validates_plain_copies_and_still_hides_a_vaulted_password() -> None:
    Recorder.seen.clear()
    secret = VaultedValue(ciphertext=CIPHERTEXT).tag("Pa55-word")
    result = run_recorder({"names": [ORIGIN.tag("www.contoso.test")], "password": secret})
    assert result["msg"] == "names www.contoso.test with ********"
    assert not isinstance(Recorder.seen[0]["names"][0], AnsibleTaggedObject)
