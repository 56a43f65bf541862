"""Each module's documented options match its argument spec in module_utils/_argspecs.py exactly.

ansible-test's validate-modules checks this too, but only in a sanity run; this runs in
milliseconds and names each difference. Modules are the files present in plugins/modules.
Documentation fragments (extends_documentation_fragment) are merged by ansible-core's own
add_fragments, as ansible-doc and validate-modules merge them, so an option documented in a
fragment is compared like one written in the module.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleError
from ansible.utils.plugin_docs import add_fragments

from ansible_collections.iis.ccs.plugins.module_utils import _argspecs

MODULES_DIR = Path(__file__).resolve().parents[2] / "plugins" / "modules"
MODULES = sorted(path.stem for path in MODULES_DIR.glob("*.py") if path.stem != "__init__")
Spec = t.Mapping[str, t.Any]


def load_module(name: str) -> t.Any:
    return importlib.import_module(f"ansible_collections.iis.ccs.plugins.modules.{name}")


class FragmentLoader:
    """The one method of ansible-core's fragment_loader that add_fragments calls, for this collection's fragments.

    `overrides` maps a fragment name to a stand-in class (a test's deliberately wrong fragment).
    """

    def __init__(self, overrides: t.Mapping[str, type] | None = None) -> None:
        self.overrides = dict(overrides or {})

    def get(self, name: str) -> t.Any:
        fragment = self.overrides.get(name) or self._import(name)
        if fragment is None:
            return None  # add_fragments then retries "<fragment>.<VARIABLE>", or reports it unknown
        instance = fragment()
        instance.ansible_name = name
        return instance

    @staticmethod
    def _import(name: str) -> type | None:
        parts = name.split(".")
        if len(parts) != 3 or parts[:2] != ["iis", "ccs"]:
            return None
        try:
            module = importlib.import_module(f"ansible_collections.iis.ccs.plugins.doc_fragments.{parts[2]}")
        except ModuleNotFoundError:
            return None
        return t.cast(type, module.ModuleDocFragment)


def documentation(module: t.Any, loader: FragmentLoader | None = None) -> dict[str, t.Any]:
    """DOCUMENTATION with its fragments merged in."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    add_fragments(doc, module.__file__, fragment_loader=loader or FragmentLoader(), is_module=True)
    return t.cast(dict, doc)


def module_spec(module: t.Any) -> tuple[str, Spec]:
    """The _argspecs entry the module file imports (and passes to AnsibleModule)."""
    found = [
        (attribute, value)
        for attribute, value in vars(module).items()
        if attribute.isupper() and isinstance(value, dict) and "argument_spec" in value and value is getattr(_argspecs, attribute, None)
    ]
    assert len(found) == 1, f"{module.__name__} must import exactly one spec from module_utils/_argspecs.py, found {[entry[0] for entry in found]}"
    return found[0]


def option_differences(path: str, documented: Spec, spec: Spec) -> list[str]:
    """Every way the documented options (DOCUMENTATION options/suboptions) differ from the spec."""
    problems = []
    for name in sorted(set(spec) - set(documented)):
        secret = " (a no_log option: document it, and never give it a default)" if spec[name].get("no_log") else ""
        problems.append(f"{path}{name}: in the argument spec but not documented{secret}")
    for name in sorted(set(documented) - set(spec)):
        problems.append(f"{path}{name}: documented but not in the argument spec")
    for name in sorted(set(spec) & set(documented)):
        doc, arg = documented[name] or {}, spec[name]
        here = f"{path}{name}"
        pairs = {
            "type": (doc.get("type", "str"), arg.get("type", "str")),
            "elements": (doc.get("elements"), arg.get("elements")),
            "choices": (_sorted(doc.get("choices")), _sorted(arg.get("choices"))),
            "default": (doc.get("default"), arg.get("default")),
            "required": (bool(doc.get("required", False)), bool(arg.get("required", False))),
            "aliases": (_sorted(doc.get("aliases")), _sorted(arg.get("aliases"))),
        }
        for key, (doc_value, arg_value) in pairs.items():
            if doc_value != arg_value:
                problems.append(f"{here}: {key} is {doc_value!r} in DOCUMENTATION but {arg_value!r} in the argument spec")
        if arg.get("no_log") and "default" in arg and arg["default"] is not None:
            problems.append(f"{here}: a no_log option must not have a default")
        if not doc.get("description"):
            problems.append(f"{here}: has no description")
        if "options" in arg or "suboptions" in doc:
            problems += option_differences(f"{here}.", doc.get("suboptions") or {}, arg.get("options") or {})
    return problems


def _sorted(values: t.Any) -> list[str] | None:
    return None if values is None else sorted(map(str, values))


def test_there_are_modules() -> None:
    assert "ccs_info" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_match_the_argument_spec(name: str) -> None:
    module = load_module(name)
    spec = module_spec(module)[1]
    documented = documentation(module)
    assert documented["module"] == name
    problems = option_differences("", documented.get("options") or {}, spec["argument_spec"])
    assert not problems, f"plugins/modules/{name}.py:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", MODULES)
def test_examples_and_return_are_yaml(name: str) -> None:
    module = load_module(name)
    examples = yaml.safe_load(module.EXAMPLES)
    returned = yaml.safe_load(module.RETURN)
    assert isinstance(examples, list) and examples, "EXAMPLES must be a list of tasks"
    assert any(f"iis.ccs.{name}" in task for task in examples), f"EXAMPLES never use iis.ccs.{name} (by its full name)"
    assert isinstance(returned, dict) and "round_trips" in returned, "RETURN must document round_trips (every result has it)"


# --- the comparison itself ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("documented", "spec", "expected"),
    [
        pytest.param({}, {"a": {"type": "str"}}, "a: in the argument spec but not documented", id="undocumented"),
        pytest.param({}, {"pw": {"type": "str", "no_log": True}}, "pw: in the argument spec but not documented (a no_log option", id="undocumented-secret"),
        pytest.param({"a": {"description": "x"}}, {}, "a: documented but not in the argument spec", id="extra-doc"),
        pytest.param({"a": {"description": "x", "type": "int"}}, {"a": {"type": "str"}}, "a: type is 'int' in DOCUMENTATION but 'str'", id="type"),
        pytest.param({"a": {"description": "x", "type": "list"}}, {"a": {"type": "list", "elements": "str"}}, "a: elements is None", id="elements"),
        pytest.param({"a": {"description": "x", "choices": ["x"]}}, {"a": {"choices": ["x", "y"]}}, "a: choices", id="choices"),
        pytest.param({"a": {"description": "x", "default": 1, "type": "int"}}, {"a": {"type": "int", "default": 2}}, "a: default is 1", id="default"),
        pytest.param({"a": {"description": "x"}}, {"a": {"required": True}}, "a: required is False", id="required"),
        pytest.param({"a": {"type": "str"}}, {"a": {"type": "str"}}, "a: has no description", id="description"),
        pytest.param({"a": {"description": "x"}}, {"a": {"no_log": True, "default": "s3cret"}}, "a: a no_log option must not have a default",
                     id="secret-default"),
        pytest.param(
            {"d": {"description": "x", "type": "list", "elements": "dict", "suboptions": {"p": {"description": "x", "type": "int"}}}},
            {"d": {"type": "list", "elements": "dict", "options": {"p": {"type": "int", "default": 445}}}},
            "d.p: default is None",
            id="suboption-default",
        ),
        pytest.param(
            {"d": {"description": "x", "type": "dict"}},
            {"d": {"type": "dict", "options": {"p": {"type": "str"}}}},
            "d.p: in the argument spec but not documented",
            id="suboptions-missing",
        ),
    ],
)
def test_comparison_catches(documented: Spec, spec: Spec, expected: str) -> None:
    problems = option_differences("", documented, spec)
    assert any(problem.startswith(expected) or expected in problem for problem in problems), problems


def test_comparison_accepts_equal_options_with_implied_defaults() -> None:
    documented = {"a": {"description": "x"}, "b": {"description": "x", "type": "list", "elements": "str", "choices": ["y", "x"], "default": []}}
    spec = {"a": {"type": "str"}, "b": {"type": "list", "elements": "str", "choices": ["x", "y"], "default": []}}
    assert option_differences("", documented, spec) == []


# --- documentation fragments ----------------------------------------------------------------------------------

STORE_FRAGMENT_USERS = {"ccs_cert_publish": "destinations", "ccs_store_info": "destinations", "ccs_renew_plan": "destinations", "ccs_verify": "store"}


@pytest.mark.parametrize(("name", "option"), sorted(STORE_FRAGMENT_USERS.items()))
def test_the_store_options_come_from_the_fragment_with_the_modules_own_description(name: str, option: str) -> None:
    module = load_module(name)
    written = yaml.safe_load(module.DOCUMENTATION)["options"][option]
    assert "suboptions" not in written, f"{name}: the suboptions of {option} belong in plugins/doc_fragments/store_destinations.py"
    merged = documentation(module)["options"][option]
    assert merged["description"] == written["description"]  # the module's keys win over the fragment's
    assert set(merged["suboptions"]) == set(_argspecs.PUBLISH_DESTINATION_SPEC)
    assert any("smbprotocol" in note for note in documentation(module)["notes"])  # fragment notes are appended


def test_the_fragments_list_and_dict_texts_differ_only_in_the_option_name() -> None:
    """DOCUMENTATION (destinations) and STORE (store) are two literals, as ansible-test's yamllint needs: keep them equal."""
    fragment = FragmentLoader._import("iis.ccs.store_destinations")
    listed = yaml.safe_load(fragment.DOCUMENTATION)
    single = yaml.safe_load(fragment.STORE.replace("O(store.", "O(destinations[]."))
    assert single["options"]["store"]["suboptions"] == listed["options"]["destinations"]["suboptions"]
    assert single["notes"] == listed["notes"]


class _WrongStoreFragment:
    """The store fragment with two mistakes: a port default the argument spec does not have, and encrypt left out."""

    DOCUMENTATION = """
options:
  destinations:
    description: [The replicas.]
    type: list
    elements: dict
    required: true
    suboptions:
      type: {description: [How.], type: str, required: true, choices: [host_path, host_unc, smb, local]}
      path: {description: [Where.], type: str, required: true}
      name: {description: [A label.], type: str}
      user_name: {description: [Account.], type: str}
      password: {description: [Its password.], type: str}
      port: {description: [SMB port.], type: int, default: 446}
"""


def test_a_wrong_fragment_is_caught() -> None:
    module = load_module("ccs_store_info")
    loader = FragmentLoader({"iis.ccs.store_destinations": _WrongStoreFragment})
    problems = option_differences("", documentation(module, loader)["options"], module_spec(module)[1]["argument_spec"])
    assert "destinations.port: default is 446 in DOCUMENTATION but 445 in the argument spec" in problems, problems
    assert "destinations.encrypt: in the argument spec but not documented" in problems, problems
    assert len(problems) == 2, problems


def test_an_unknown_fragment_is_an_error() -> None:
    doc = {"module": "x", "options": {}, "extends_documentation_fragment": ["iis.ccs.no_such_fragment"]}
    with pytest.raises(AnsibleError, match="iis.ccs.no_such_fragment"):
        add_fragments(doc, "x.py", fragment_loader=FragmentLoader(), is_module=True)


def test_ansible_doc_merges_the_fragments_the_same_way() -> None:
    """What `ansible-doc --json` shows for every module is what this file compares with the argument spec."""
    command = [str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json", *(f"iis.ccs.{name}" for name in MODULES)]
    done = subprocess.run(command, env=os.environ, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    shown = json.loads(done.stdout)
    for name in MODULES:
        module = load_module(name)
        options = shown[f"iis.ccs.{name}"]["doc"]["options"]
        assert _shape(options) == _shape(documentation(module)["options"]), name
        assert option_differences("", options, module_spec(module)[1]["argument_spec"]) == [], name


def _shape(options: Spec) -> dict[str, t.Any]:
    """Option names with their type, default and suboptions, ignoring how ansible-doc reformats descriptions."""
    return {
        name: (value.get("type", "str"), value.get("default"), _shape(value.get("suboptions") or {}))
        for name, value in options.items()
    }
