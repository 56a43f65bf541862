"""The lab's apply_bindings emulation enforces what IIS and netsh enforce (so playbook tests prove real rules)."""

from __future__ import annotations

import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lab"))

from iis_lab import model  # noqa: E402
from iis_lab.errors import WindowsError_  # noqa: E402
from iis_lab.network import Network  # noqa: E402
from iis_lab.ops import OpContext  # noqa: E402
from iis_lab.ops.apply_bindings import apply_bindings  # noqa: E402
from iis_lab.state import initial_state  # noqa: E402


def host(build: int = 20348, provider_enabled: bool = True, bindings: list[dict[str, t.Any]] | None = None, ccs: list[str] | None = None) -> dict[str, t.Any]:
    state = initial_state(
        "web",
        {
            "windows_build": build,
            "features": ["Web-Server", "Web-CertProvider"],
            "sites": [{"name": "site", "bindings": bindings or []}],
            "httpsys": {"ccs": ccs or []},
        },
    )
    state["registry"][model.PROVIDER_KEY] = {"Enabled": 1 if provider_enabled else 0}
    return state


def apply(state: dict[str, t.Any], *steps: dict[str, t.Any]) -> dict[str, t.Any]:
    context = OpContext(host="web", state=state, network=Network({}), params={"site": "site", "steps": list(steps)})
    return apply_bindings(context)


def add(info: str, flags: int = 3) -> dict[str, t.Any]:
    return {"action": "add_binding", "protocol": "https", "binding_information": info, "ssl_flags": flags}


COMMIT = {"action": "commit"}


def test_ccs_binding_refused_while_provider_disabled():
    state = host(provider_enabled=False)
    with pytest.raises(WindowsError_, match="provider is not enabled"):
        apply(state, add("*:443:www.example.com"), COMMIT)
    assert state["sites"][0]["bindings"] == []


@pytest.mark.parametrize(("flags", "message"), [(1, "SNI binding needs a host"), (2, "central certificate store binding needs a host"), (3, "SNI")])
def test_sni_or_ccs_binding_without_host_refused(flags, message):
    with pytest.raises(WindowsError_, match=message):
        apply(host(), add("*:443:", flags))


def test_duplicate_binding_refused_like_iis():
    state = host(bindings=[{"protocol": "https", "binding_information": "*:443:www.example.com", "ssl_flags": 3}])
    with pytest.raises(WindowsError_, match="duplicate collection entry"):
        apply(state, add("*:443:WWW.example.com"))


def test_extended_flags_refused_before_1809():
    with pytest.raises(WindowsError_, match="sslFlags"):
        apply(host(build=14393), add("*:443:www.example.com", 3 | 4))
    answer = apply(host(build=17763), add("*:443:www.example.com", 3 | 4), COMMIT)
    assert answer["site"]["bindings"][0]["ssl_flags"] == 7


def test_nothing_reaches_the_configuration_before_commit():
    state = host()
    with pytest.raises(WindowsError_):
        apply(state, add("*:443:a.example.com"), add("*:443:", 3), COMMIT)
    assert state["sites"][0]["bindings"] == []


def test_ccs_entry_is_added_once_and_removed_only_when_unused():
    state = host(ccs=[])
    answer = apply(state, {"action": "ensure_ccs_entry", "port": 443}, {"action": "ensure_ccs_entry", "port": 443})
    assert [s["outcome"] for s in answer["steps"]] == ["done", "present"]
    apply(state, add("*:443:www.example.com"), COMMIT)
    answer = apply(state, {"action": "remove_ccs_entry_if_unused", "port": 443})
    assert answer["steps"][0]["outcome"] == "kept" and answer["steps"][0]["used_by"] == ["site"]
    answer = apply(
        state,
        {"action": "remove_binding", "protocol": "https", "binding_information": "*:443:www.example.com"},
        COMMIT,
        {"action": "remove_ccs_entry_if_unused", "port": 443},
    )
    assert answer["steps"][-1]["outcome"] == "done"
    assert answer["httpsys"]["ccs"] == []


def test_missing_site_fails():
    state = host()
    context = OpContext(host="web", state=state, network=Network({}), params={"site": "nope", "steps": []})
    with pytest.raises(WindowsError_, match="does not exist"):
        apply_bindings(context)
