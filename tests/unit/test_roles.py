"""Static checks of the roles, farm.yml, the AWX credential type and the example inventory."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = ("web_node", "cert_publish", "file_share")
BIN = Path(sys.executable).parent


def load(path: Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def tasks(role: str) -> list[dict[str, t.Any]]:
    """Every task of the role, with the tasks of a block (and its rescue and always) in place of the block."""
    found: list[dict[str, t.Any]] = []
    for path in sorted((REPO / "roles" / role / "tasks").glob("*.yml")):
        found += _flatten(load(path) or [])
    return found


def _flatten(entries: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    flat: list[dict[str, t.Any]] = []
    for entry in entries:
        if "block" in entry:
            flat += _flatten(entry["block"]) + _flatten(entry.get("rescue") or []) + _flatten(entry.get("always") or [])
        else:
            flat.append(entry)
    return flat


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_document_exactly_the_defaults(role: str) -> None:
    options = load(REPO / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = load(REPO / "roles" / role / "defaults" / "main.yml")
    assert set(options) == set(defaults)
    assert all(name.startswith(f"{role}_") for name in options), "role variables carry the role's prefix"


@pytest.mark.parametrize("role", ROLES)
def test_every_task_handling_a_secret_has_no_log(role: str) -> None:
    options = load(REPO / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    secrets = [name for name, spec in options.items() if spec.get("no_log")]
    for task in tasks(role):
        text = json.dumps({k: v for k, v in task.items() if k != "name"})
        # Secrets also travel inside list items (certificates and destinations carry passwords).
        handles_secret = any(s in text for s in secrets) or ("cert_publish_certificates" in text and "loop" in task)
        if handles_secret:
            assert task.get("no_log") is True, f"{role}: task {task.get('name')!r} handles a secret without no_log"


@pytest.mark.parametrize("role", ROLES)
def test_modules_are_called_by_fqcn(role: str) -> None:
    keywords = {"name", "loop", "loop_control", "when", "vars", "register", "no_log", "run_once", "ignore_errors", "tags", "changed_when"}
    for task in tasks(role):
        actions = [k for k in task if k not in keywords]
        assert len(actions) == 1 and actions[0].count(".") == 2, (role, task.get("name"), actions)


def test_credential_type_injects_only_its_inputs_and_hides_every_password() -> None:
    credential = load(REPO / "docs" / "awx" / "credential-type.yml")
    fields = {f["id"]: f for f in credential["inputs"]["fields"]}
    for field_id, field in fields.items():
        assert field.get("secret", False) == field_id.endswith("password"), field_id
    injected = credential["injectors"]["extra_vars"]
    for var, template in injected.items():
        used = re.fullmatch(r"\{\{ (\w+) \}\}", template)
        assert used and used.group(1) in fields, (var, template)
    farm = (REPO / "playbooks" / "farm.yml").read_text(encoding="utf-8")
    for var in ("ccs_store_user_name", "ccs_store_password", "ccs_private_key_password"):
        assert var in injected and var in farm


def test_farm_plays_target_the_inventory_groups_of_the_example_inventory(tmp_path: Path) -> None:
    password_file = tmp_path / "vault-password"
    password_file.write_text("iis-ccs-example-only\n", encoding="utf-8")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / "tests" / "output" / "collections"))
    for inventory in ("hosts.yml", "hosts-psrp.yml"):
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(REPO / "examples" / "inventory" / inventory),
                               "--vault-password-file", str(password_file), "--list-hosts", str(REPO / "playbooks" / "farm.yml")],
                              capture_output=True, text=True, env=env, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        plays = re.findall(r"play #\d+ \(([^)]*)\).*?hosts \((\d+)\):", proc.stdout, flags=re.S)
        assert plays == [("ccs_file_share_managed", "1"), ("ccs_publishers", "1"), ("ccs_web_nodes", "3")], proc.stdout


def test_example_vault_values_are_encrypted_placeholders(tmp_path: Path) -> None:
    password_file = tmp_path / "vault-password"
    password_file.write_text("iis-ccs-example-only\n", encoding="utf-8")
    names = ("ansible_password", "ccs_store_password", "ccs_private_key_password", "ccs_publish_password", "ccs_pfx_password")
    proc = subprocess.run([str(BIN / "ansible"), "-i", str(REPO / "examples" / "inventory" / "hosts.yml"), "web01.contoso.com",
                           "--vault-password-file", str(password_file), "-m", "ansible.builtin.debug",
                           "-a", "msg={{ [" + ", ".join(names) + "] | to_json }}"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in names:
        assert f"CHANGE-ME-{name.removeprefix('ccs_')}" in proc.stdout
    raw = (REPO / "examples" / "inventory" / "group_vars" / "ccs_farm" / "vault.yml").read_text(encoding="utf-8")
    assert "CHANGE-ME-" not in raw.split("\nvault_", 1)[1], "values must be stored encrypted"
