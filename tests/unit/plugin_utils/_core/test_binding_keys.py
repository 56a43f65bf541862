"""canonical_host's shortcut for ASCII names gives what full validation gives."""

from __future__ import annotations

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core import binding_keys
from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import HostNameError, parse_host_name


def validated(text: str) -> str:
    """canonical_host without its shortcut: every name through parse_host_name."""
    try:
        return parse_host_name(text, allow_wildcard=True, option="host_names").ascii.lower()
    except (HostNameError, ValueError):
        return text.lower()


@pytest.mark.parametrize("text", [
    "www.contoso.com", "WWW.Contoso.COM", "*.shop.contoso.com", "xn--bcher-kva.example", "XN--BCHER-KVA.example",
    "xn--invalid-.example", "www.contoso.com.", "WWW.CONTOSO.COM.", "10.0.0.1", "a..b", "-bad.example", "a" * 64 + ".example",
    "under_score.example", "*", "*.", "b\u00fccher.example", "B\u00dcCHER.example.", "\u00e9t\u00e9.example",
])
def test_canonical_host_equals_the_fully_validated_form(text: str) -> None:
    assert binding_keys.canonical_host(text) == validated(text)


def test_empty_host_stays_empty() -> None:
    assert binding_keys.canonical_host("") == ""
