"""Every lab rule has a public source, a tagged raise site and a test that fails without it.

RULE_CASES drives each rule through the emulated operation directly (the controller often refuses
first, which would hide a deleted lab rule). test_rule_case_fails_without_its_rule switches each rule
off (iis_lab.rules.DISABLED, as if its code were deleted) and shows its case then fails. The static
tests read the lab's source: every WindowsError_ raised either names a registered rule, re-words an
error it caught, mirrors a throw in the shipped scripts, or is a fault the tests inject.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import os
import re
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[1] / "lab"
sys.path.insert(0, str(LAB))

import iis_lab  # noqa: E402
from iis_lab import model, rules  # noqa: E402
from iis_lab.errors import WindowsError_  # noqa: E402
from iis_lab.network import Network  # noqa: E402
from iis_lab.ops import OpContext  # noqa: E402
from iis_lab.ops.apply_bindings import apply_bindings  # noqa: E402
from iis_lab.ops.cert_store import read_cert_store  # noqa: E402
from iis_lab.ops.configure_provider import configure_provider  # noqa: E402
from iis_lab.ops.read_store_acl import read_store_acl  # noqa: E402
from iis_lab.state import initial_state  # noqa: E402

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops  # noqa: E402

for _module in pkgutil.walk_packages(iis_lab.__path__, "iis_lab."):
    importlib.import_module(_module.name)  # every module registers its rules on import

REPO = Path(__file__).resolve().parents[2]
BEHAVIOUR = REPO / "docs" / "ccs-behaviour.md"
PASSWORD, KEY = "Rule-Pa55!", "pfx-key"
NETWORK = {
    "accounts": {"LAB\\svc-ccs": PASSWORD},
    "shares": [{"unc": "\\\\fs01\\ccs", "host": "fs01", "path": "D:\\CCS", "read": ["LAB\\svc-ccs"]}],
    "offline_hosts": ["fs09"],
}
ENABLE = {"action": "enable", "module": "IISAdministration", "store_location": "\\\\fs01\\ccs", "user_name": "LAB\\svc-ccs",
          "password": PASSWORD, "private_key_password": KEY}


@pytest.fixture(autouse=True)
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    initial_state("fs01", {"features": [], "sites": [], "directories": ["D:\\CCS"]})
    return tmp_path


def web(build: int = 20348, features: t.Sequence[str] = ("Web-Server", "Web-CertProvider"), enabled: bool = True,
        installation_type: str = "Server", ccs: t.Sequence[str] = ()) -> dict[str, t.Any]:
    state = initial_state("web01", {"windows_build": build, "features": list(features), "installation_type": installation_type,
                                    "sites": [{"name": "site", "bindings": []}], "httpsys": {"ccs": list(ccs)}})
    if enabled:
        state["registry"][model.PROVIDER_KEY] = {"Enabled": 1}
    return state


def context(state: dict[str, t.Any], params: dict[str, t.Any]) -> OpContext:
    return OpContext(host="web01", state=state, network=Network(NETWORK), params=params)


def provider_steps(state: dict[str, t.Any], *steps: dict[str, t.Any]) -> None:
    configure_provider(context(state, {"steps": list(steps)}))


def binding_steps(state: dict[str, t.Any], *steps: dict[str, t.Any]) -> None:
    apply_bindings(context(state, {"site": "site", "steps": list(steps)}))


def add(info: str, flags: int = 3) -> dict[str, t.Any]:
    return {"action": "add_binding", "binding_information": info, "ssl_flags": flags}


def read_store(path: str, user: str | None = "LAB\\svc-ccs", password: str = PASSWORD) -> None:
    params = {"path": path, "user_name": user, "password": password, "manifest_name": "m.json", "fetch": [],
              "temp_prefix": ".t", "temp_suffix": ".tmp"}
    read_cert_store(context(web(), params))


def _convert_onto_existing() -> None:
    state = web()
    state["sites"][0]["bindings"] = [
        {"protocol": "https", "binding_information": "*:443:a.example.com", "ssl_flags": 3, "certificate_hash": "", "certificate_store": ""},
        {"protocol": "http", "binding_information": "*:443:a.example.com", "ssl_flags": 0, "certificate_hash": "", "certificate_store": ""},
    ]
    binding_steps(state, {"action": "convert_binding", "protocol": "http", "binding_information": "*:443:a.example.com", "ssl_flags": 3})


def _add_ccs_entry_twice() -> None:
    # The script looks before it adds (ensure_ccs_entry), so the lab's netsh refusal is reached directly.
    from iis_lab.ops.apply_bindings import _netsh_add_ccs

    state = web(ccs=["0.0.0.0:443"])
    _netsh_add_ccs(context(state, {}), 443)


def _logon_without_user() -> None:
    Network(NETWORK).check_logon("web01", {}, "", PASSWORD)


def _read_store_as_outsider() -> None:
    network = {**NETWORK, "accounts": {**NETWORK["accounts"], "LAB\\outsider": "Out-Pa55"}}  # type: ignore[dict-item]
    params = {"path": "\\\\fs01\\ccs", "user_name": "LAB\\outsider", "password": "Out-Pa55", "manifest_name": "m.json", "fetch": [],
              "temp_prefix": ".t", "temp_suffix": ".tmp"}
    read_cert_store(OpContext(host="web01", state=web(), network=Network(network), params=params))


def _read_acl_of_unknown_share() -> None:
    # The file server's own operation (ccs_store_info's audit): the host has \\fs01\ccs, not "other".
    read_store_acl(OpContext(host="fs01", state=initial_state("fs01", {}), network=Network(NETWORK), params={"share": "other"}))


# rule id -> cases; each must end in that rule's refusal.
RULE_CASES: dict[str, list[t.Callable[[], None]]] = {
    "binding-key-unique": [
        lambda: binding_steps(web(), add("*:443:a.example.com"), add("*:443:a.example.com")),
        _convert_onto_existing,
    ],
    "ssl-flags-known-to-iis": [lambda: binding_steps(web(build=14393), add("*:443:a.example.com", 3 | 4))],
    "sni-binding-needs-host": [lambda: binding_steps(web(), add("*:443:", 1))],
    "ccs-binding-needs-host": [lambda: binding_steps(web(), add("*:443:", 2))],
    "ccs-binding-needs-enabled-provider": [lambda: binding_steps(web(enabled=False), add("*:443:a.example.com"))],
    "wildcard-host-needs-iis10": [lambda: binding_steps(web(build=9600), add("*:443:*.example.com", 1))],
    "netsh-add-existing-fails": [_add_ccs_entry_twice],
    "provider-cmdlets-need-feature": [lambda: provider_steps(web(features=["Web-Server"]), {"action": "disable"})],
    "provider-credential-validated": [lambda: provider_steps(web(enabled=False), {**ENABLE, "password": "wrong"})],
    "provider-path-must-exist": [lambda: provider_steps(web(enabled=False), {**ENABLE, "store_location": "C:\\Missing"})],
    "enable-needs-all-values": [lambda: provider_steps(web(enabled=False), {**ENABLE, "module": "WebAdministration", "user_name": ""})],
    "set-needs-enabled-provider": [lambda: provider_steps(web(enabled=False), {"action": "set", "store_location": "\\\\fs01\\ccs"})],
    "set-user-and-password-together": [lambda: provider_steps(web(), {"action": "set", "user_name": "LAB\\svc-ccs"})],
    "optional-feature-client-only": [
        lambda: provider_steps(web(features=[]), {"action": "install_features", "names": ["IIS-CertProvider"], "method": "client"}),
    ],
    "install-windowsfeature-server-only": [lambda: provider_steps(web(features=[], installation_type="Client"),
                                                                  {"action": "install_features", "names": ["Web-CertProvider"], "method": "server"})],
    "feature-name-must-be-known": [lambda: provider_steps(web(features=[]), {"action": "install_features", "names": ["Web-Nope"], "method": "server"})],
    "ccs-feature-needs-iis": [
        lambda: provider_steps(web(features=[]), {"action": "install_features", "names": ["Web-CertProvider"], "method": "server"}),
    ],
    "dword-range": [lambda: provider_steps(web(), {"action": "set_polling_interval", "polling_interval": 2**32})],
    "logon-needs-valid-credentials": [lambda: read_store("\\\\fs01\\ccs", password="wrong"), _logon_without_user],
    "unc-server-reachable": [lambda: read_store("\\\\fs09\\ccs"), lambda: read_store("\\\\fs01")],
    "unc-share-exists": [lambda: read_store("\\\\fs01\\other")],
    "effective-access-is-lesser": [_read_store_as_outsider],
    "smb-share-not-found": [_read_acl_of_unknown_share],
}


CASES = [pytest.param(rule_id, index, id=f"{rule_id}-{index}") for rule_id, cases in RULE_CASES.items() for index in range(len(cases))]


def expect_refusal(rule_id: str, index: int) -> None:
    with pytest.raises(WindowsError_) as refused:
        RULE_CASES[rule_id][index]()
    assert refused.value.rule == rule_id, f"refused by {refused.value.rule!r}, not {rule_id!r}: {refused.value.message}"


@pytest.mark.parametrize(("rule_id", "index"), CASES)
def test_rule_is_enforced(rule_id: str, index: int) -> None:
    expect_refusal(rule_id, index)


@pytest.mark.parametrize(("rule_id", "index"), CASES)
def test_rule_case_fails_without_its_rule(rule_id: str, index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "DISABLED", {rule_id})
    with pytest.raises(BaseException) as outcome:  # noqa: PT011 - any failure of the case is the point: a refusal that did not happen
        expect_refusal(rule_id, index)
    assert not isinstance(outcome.value, KeyboardInterrupt)


# Rules no operation refuses with (the TLS lab's certificate selection) -> the tests that prove them; each
# listed test must fail when its rule is switched off in another process (IIS_LAB_DISABLED_RULES).
RULE_TESTS: dict[str, list[str]] = {
    "ccs-file-exact-then-wildcard": ["tests/unit/test_tls_lab_rules.py::test_wildcard_binding_tries_the_name_then_the_wildcard_file"],
    "ccs-cache-polling": ["tests/unit/test_tls_lab_rules.py::test_loaded_certificate_is_served_until_the_polling_interval_passes",
                          "tests/unit/test_tls_lab_rules.py::test_cached_certificate_stays_while_the_share_is_unreachable"],
    "ccs-fallback-ip-binding": ["tests/unit/test_tls_lab_rules.py::test_sni_name_without_certificate_falls_back_to_the_ip_binding"],
}

# The rules added with the script rewrite (issue 12) are proven by tests/unit/test_lab_windows_rules.py,
# which runs each shipped script and its reverted call: with one of these rules switched off, that file fails.
WINDOWS_RULE_TESTS = Path(__file__).resolve().parent / "test_lab_windows_rules.py"
PROVEN_BY_SCRIPT_TESTS = sorted(set(rules.RULES) - set(RULE_CASES) - set(RULE_TESTS))


def test_every_case_is_a_registered_rule() -> None:
    # Every other registered rule must make the script tests fail when it is off (the test below).
    assert set(RULE_CASES) <= set(rules.RULES), sorted(set(RULE_CASES) - set(rules.RULES))
    assert set(RULE_TESTS) <= set(rules.RULES), sorted(set(RULE_TESTS) - set(rules.RULES))
    assert not set(RULE_CASES) & set(RULE_TESTS)
    assert WINDOWS_RULE_TESTS.exists()


def run_tests(node_ids: t.Sequence[str], disabled: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IIS_LAB_DISABLED_RULES": disabled, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", "-rf", *node_ids],
                          capture_output=True, text=True, check=False, env=env, cwd=REPO)


def test_rule_tests_pass_with_every_rule_on() -> None:
    node_ids = sorted({node for nodes in RULE_TESTS.values() for node in nodes})
    run = run_tests(node_ids)
    assert run.returncode == 0 and f"{len(node_ids)} passed" in run.stdout, run.stdout[-2000:]


@pytest.mark.parametrize("rule_id", sorted(RULE_TESTS))
def test_rule_tests_fail_without_their_rule(rule_id: str) -> None:
    run = run_tests(RULE_TESTS[rule_id], disabled=rule_id)
    failed = set(re.findall(r"^FAILED (\S+)", run.stdout, re.MULTILINE))
    assert run.returncode == 1, f"returned {run.returncode} with {rule_id} switched off:\n{run.stdout[-2000:]}"
    assert failed == set(RULE_TESTS[rule_id]), f"with {rule_id} switched off, these still passed: {sorted(set(RULE_TESTS[rule_id]) - failed)}"


@pytest.mark.parametrize("rule_id", PROVEN_BY_SCRIPT_TESTS)
def test_script_tests_fail_without_their_rule(rule_id: str) -> None:
    env = {**os.environ, "IIS_LAB_DISABLED_RULES": rule_id, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", "-x", str(WINDOWS_RULE_TESTS)],
                         capture_output=True, text=True, check=False, env=env, cwd=REPO)
    assert run.returncode == 1, f"{WINDOWS_RULE_TESTS.name} passed with {rule_id} switched off:\n{run.stdout[-2000:]}"


@pytest.mark.parametrize("rule_id", sorted(rules.RULES))
def test_rule_names_a_public_source(rule_id: str) -> None:
    assert source_problems(rules.RULES[rule_id].source) == []


def source_problems(source: str) -> list[str]:
    """A source is a public page (learn.microsoft.com, a GitHub repository or issue) or a section of docs/ccs-behaviour.md."""
    problems = []
    parts = [part.strip() for part in source.split(";") if part.strip()]
    if not parts:
        return ["no source"]
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', BEHAVIOUR.read_text(encoding="utf-8")))
    for part in parts:
        reference = part.split(" ")[0]
        if reference.startswith("docs/ccs-behaviour.md#"):
            if reference.split("#", 1)[1] not in anchors:
                problems.append(f"{reference}: no such section in docs/ccs-behaviour.md")
        elif re.match(r"^Microsoft KB \d+$", part):
            continue  # a Microsoft knowledge-base article: a known issue
        elif not re.match(r"^https://(learn\.microsoft\.com|github\.com)/\S+$", reference):
            problems.append(f"{part!r} is neither a public page nor a docs/ccs-behaviour.md section")
    return problems


def test_source_check_refuses_a_rule_without_one() -> None:
    assert source_problems("") == ["no source"]
    assert source_problems("common knowledge") != []
    assert source_problems("docs/ccs-behaviour.md#no-such-section") != []
    assert source_problems("https://learn.microsoft.com/en-us/x; docs/ccs-behaviour.md#bindings") == []


def test_register_refuses_a_duplicate_and_enforced_refuses_an_unknown_id() -> None:
    with pytest.raises(ValueError, match="twice"):
        rules.register("binding-key-unique", "again", "docs/ccs-behaviour.md#bindings")
    with pytest.raises(KeyError, match="not registered"):
        rules.enforced("no-such-rule")


# -- raise sites -----------------------------------------------------------------------------------
def _script_text() -> str:
    texts = [(Path(host_ops.OPERATIONS_DIR) / f"{op}.ps1").read_text(encoding="ascii") for op in host_ops.operation_names()]
    texts += [(Path(host_ops.LIBRARY_DIR) / f"{lib}.ps1").read_text(encoding="ascii") for lib in host_ops.library_names()]
    return "\n".join(texts).replace("''", "'")


def raise_site_problems(path: Path, scripts: str) -> list[str]:
    """WindowsError_ calls that name no registered rule and are not a re-wording, a script's own throw or an injected fault."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    problems = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "WindowsError_"):
            continue
        where = f"{path.name}:{node.lineno}"
        rule = next((k.value for k in node.keywords if k.arg == "rule"), None)
        if isinstance(rule, ast.Attribute) and rule.attr == "rule" and _inside_handler(node, parents):
            continue  # re-words an error it caught and keeps that error's rule
        if isinstance(rule, ast.IfExp) and _mirrors_script(node, scripts):
            # The script's own throw, tagged with the Windows rule that leads to it when it does (enforced where it happens).
            ids = [c.value for c in (rule.body, rule.orelse) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            problems += [f"{where}: rule {i!r} is not registered" for i in ids if i not in rules.RULES]
            continue
        if isinstance(rule, ast.Name):
            # rule = "a" if ... else "b": every possible id is registered, and the raise asks enforced(rule).
            ids = _assigned_ids(rule.id, node, parents)
            unknown = [i for i in ids if i not in rules.RULES]
            if not ids or unknown:
                problems.append(f"{where}: rule {rule.id} may be {unknown or 'anything'}, not a registered id")
            elif not _guarded_by_enforced(node, parents, rule.id, variable=True):
                problems.append(f"{where}: raises rule {rule.id} without asking enforced({rule.id}) first")
            continue
        if rule is not None:
            if not isinstance(rule, ast.Constant) or rule.value not in rules.RULES:
                problems.append(f"{where}: rule {ast.unparse(rule)} is not registered")
            elif not _guarded_by_enforced(node, parents, rule.value):
                problems.append(f"{where}: raises rule {rule.value!r} without asking enforced({rule.value!r}) first")
            continue
        if _inside_handler(node, parents) or _under_fault(node, parents) or _mirrors_script(node, scripts) or _rule_switched_off(node, parents):
            continue
        problems.append(f"{where}: raises a Windows error with no registered rule (register it in iis_lab/rules.py with its source)")
    return problems


def _ancestors(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> t.Iterator[ast.AST]:
    while node in parents:
        node = parents[node]
        yield node


def _assigned_ids(name: str, node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[str]:
    function = next((a for a in _ancestors(node, parents) if isinstance(a, ast.FunctionDef)), None)
    ids: list[str] = []
    for assign in ast.walk(function) if function is not None else []:
        if isinstance(assign, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in assign.targets):
            value = assign.value
            choices = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
            ids += [c.value for c in choices if isinstance(c, ast.Constant) and isinstance(c.value, str)]
    return ids


def _guarded_by_enforced(node: ast.AST, parents: dict[ast.AST, ast.AST], rule_id: str, variable: bool = False) -> bool:
    call = f"enforced({rule_id})" if variable else f"enforced({rule_id!r})".replace("'", '"')
    for ancestor in _ancestors(node, parents):
        if isinstance(ancestor, ast.If) and call in ast.unparse(ancestor.test).replace("'", '"'):
            return True
        if isinstance(ancestor, ast.FunctionDef):
            # A builder function (the raise is elsewhere): every caller's raise must be guarded.
            calls = _calls_of(ancestor.name, parents)
            return bool(calls) and all(_guarded_by_enforced(use, parents, rule_id) for use in calls)
    return False


def _calls_of(name: str, parents: dict[ast.AST, ast.AST]) -> list[ast.AST]:
    return [n for n in parents if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name]


def _inside_handler(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    return any(isinstance(a, ast.ExceptHandler) for a in _ancestors(node, parents))


def _rule_switched_off(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """What the lab does instead when a test switched a rule off (if not enforced(...))."""
    return any(isinstance(a, ast.If) and "not enforced(" in ast.unparse(a.test) for a in _ancestors(node, parents))


def _under_fault(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    return any(isinstance(a, ast.If) and "faults." in ast.unparse(a.test) for a in _ancestors(node, parents))


def _mirrors_script(node: ast.Call, scripts: str) -> bool:
    message = node.args[0] if node.args else None
    if isinstance(message, ast.Constant):
        chunks = [str(message.value)]
    elif isinstance(message, ast.JoinedStr):
        chunks = [str(v.value) for v in message.values if isinstance(v, ast.Constant)]
    else:
        return False
    chunks = [c for c in chunks if len(c.strip()) >= 8]
    return bool(chunks) and all(c in scripts for c in chunks)


def lab_sources() -> list[Path]:
    return sorted(p for p in (LAB / "iis_lab").rglob("*.py"))


def test_every_raise_site_names_a_registered_rule() -> None:
    scripts = _script_text()
    problems = [problem for path in lab_sources() for problem in raise_site_problems(path, scripts)]
    assert not problems, "\n".join(problems)


def test_raise_site_check_catches_an_untagged_and_an_unregistered_rule(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        "from ..errors import WindowsError_\n"
        "from ..rules import enforced\n"
        "def a():\n    raise WindowsError_('IIS answers something no source mentions.')\n"
        "def b():\n    raise WindowsError_('x', rule='no-such-rule')\n"
        "def c():\n    raise WindowsError_('y', rule='binding-key-unique')\n",
        encoding="utf-8",
    )
    problems = raise_site_problems(module, _script_text())
    assert len(problems) == 3
    assert "no registered rule" in problems[0] and "not registered" in problems[1] and "without asking enforced" in problems[2]
