"""Wrong types are refused as wrong types, naming the option and the type it expects, never the value."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_BINDING, CCS_CERT_PUBLISH, CCS_PROVIDER
from ansible_collections.iis.ccs.plugins.plugin_utils._core.arg_types import wrong_type_errors

WRONG_TYPES = [
    (CCS_PROVIDER, {"store_location": ["\\\\fs01\\ccs"]}, "store_location: expected a string, got a list"),
    (CCS_PROVIDER, {"password": {"secret": "Canary-Pw-1"}}, "password: expected a string, got a dictionary"),
    (CCS_PROVIDER, {"polling_interval": [60]}, "polling_interval: expected an integer, got a list"),
    (CCS_BINDING, {"site": ["Default Web Site"]}, "site: expected a string, got a list"),
    (CCS_BINDING, {"host_names": {"www.example.com": True}}, "host_names: expected a list, got a dictionary"),
    (CCS_BINDING, {"host_names": ["www.example.com", ["api.example.com"]]}, "host_names[1]: expected a string, got a list"),
    (CCS_CERT_PUBLISH, {"pfx_path": ["/a.pfx"]}, "pfx_path: expected a path (a string), got a list"),
    (CCS_CERT_PUBLISH, {"destinations": {"type": "local", "path": "/srv"}}, "destinations: expected a list, got a dictionary"),
    (CCS_CERT_PUBLISH, {"destinations": ["/srv/ccs"]}, "destinations[0]: expected a dictionary, got a single value"),
    (CCS_CERT_PUBLISH, {"destinations": [{"type": "local", "path": ["/srv"]}]}, "destinations[0].path: expected a string, got a list"),
    (CCS_CERT_PUBLISH, {"destinations": [{"type": "smb", "path": "\\\\fs\\s", "port": {"n": 1}}]},
     "destinations[0].port: expected an integer, got a dictionary"),
]


@pytest.mark.parametrize(("spec", "params", "message"), WRONG_TYPES, ids=[case[2].split(":")[0] for case in WRONG_TYPES])
def test_wrong_types_name_the_option_and_the_expected_type(spec: dict[str, t.Any], params: dict[str, t.Any], message: str) -> None:
    errors = wrong_type_errors(spec["argument_spec"], params)
    assert errors == [message]
    assert "Canary-Pw-1" not in message and "class" not in message


@pytest.mark.parametrize(("spec", "params"), [
    (CCS_PROVIDER, {"store_location": "\\\\fs01\\ccs", "polling_interval": 60, "password": None}),
    (CCS_PROVIDER, {"polling_interval": "60"}),  # numbers as text stay ansible-core's business
    (CCS_BINDING, {"site": "web", "host_names": "www.example.com,api.example.com", "port": 443}),
    (CCS_CERT_PUBLISH, {"destinations": [{"type": "local", "path": "/srv", "port": 445}], "host_names": ["a.test"]}),
])
def test_right_shapes_pass(spec: dict[str, t.Any], params: dict[str, t.Any]) -> None:
    assert wrong_type_errors(spec["argument_spec"], params) == []
