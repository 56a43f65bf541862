# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the iis.ccs modules: the single source of truth.

The module files pass these to AnsibleModule, so ``ansible-test sanity``
(validate-modules) checks each one against the module's documentation; the action
plugins validate task arguments with the very same dictionaries.
"""

from __future__ import annotations

import typing as t

HOST_STATE_SECTIONS = ["windows", "features", "provider", "sites", "httpsys"]

EXPECTED_BINDING_SPEC = {
    "site": {"type": "str", "required": True},
    "host_names": {"type": "list", "elements": "str", "required": True},
    "port": {"type": "int", "default": 443},
    "ip": {"type": "str", "default": "*"},
    "sni": {"type": "bool", "default": True},
}

CCS_INFO = {
    "argument_spec": {
        "gather": {"type": "list", "elements": "str", "choices": HOST_STATE_SECTIONS, "default": HOST_STATE_SECTIONS},
        "sites": {"type": "list", "elements": "str", "default": []},
        "expect": {
            "type": "dict",
            "options": {
                "store_location": {"type": "str"},
                "bindings": {"type": "list", "elements": "dict", "default": [], "options": EXPECTED_BINDING_SPEC},
            },
        },
    },
}

CCS_PROVIDER = {
    "argument_spec": {
        "state": {"type": "str", "choices": ["enabled", "disabled", "absent"], "default": "enabled"},
        "store_location": {"type": "str"},
        "user_name": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "private_key_password": {"type": "str", "no_log": True},
        "allow_no_private_key_password": {"type": "bool", "default": False},
        "polling_interval": {"type": "int"},
        "install_feature": {"type": "bool", "default": True},
        "install_iis": {"type": "bool", "default": False},
        "update_secrets": {"type": "str", "choices": ["on_change", "always"], "default": "on_change"},
    },
    "required_if": [["state", "enabled", ["store_location", "user_name", "password"]]],
}

BINDING_FLAG_OPTIONS = ["disable_http2", "disable_ocsp_stapling", "disable_quic", "disable_tls13", "disable_legacy_tls"]

# The options of one site's bindings: at the top of a one-site task, and in each entry of 'bindings',
# where an unset option takes the task-level value (so a loop item becomes an entry unchanged).
BINDING_ENTRY_SPEC: dict[str, dict[str, t.Any]] = {
    "site": {"type": "str", "required": True},
    "host_names": {"type": "list", "elements": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"]},
    "port": {"type": "int"},
    "ip": {"type": "str"},
    "sni": {"type": "bool"},
    "exclusive": {"type": "bool"},
    **{name: {"type": "bool"} for name in BINDING_FLAG_OPTIONS},
}

CCS_BINDING = {
    "argument_spec": {
        "site": {"type": "str"},
        "host_names": {"type": "list", "elements": "str"},
        "bindings": {"type": "list", "elements": "dict", "options": BINDING_ENTRY_SPEC},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "port": {"type": "int", "default": 443},
        "ip": {"type": "str", "default": "*"},
        "sni": {"type": "bool", "default": True},
        "exclusive": {"type": "bool", "default": False},
        **{name: {"type": "bool"} for name in BINDING_FLAG_OPTIONS},
        "return_bindings": {"type": "bool", "default": True},
    },
    # A task manages one site's bindings (site and host_names at the top) or many ('bindings').
    "mutually_exclusive": [["site", "bindings"], ["host_names", "bindings"]],
    "required_one_of": [["site", "bindings"]],
    "required_together": [["site", "host_names"]],
}

PUBLISH_DESTINATION_SPEC = {
    "type": {"type": "str", "required": True, "choices": ["host_path", "host_unc", "smb", "local"]},
    "path": {"type": "str", "required": True},
    "name": {"type": "str"},
    "user_name": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "port": {"type": "int", "default": 445},
    "encrypt": {"type": "bool", "default": True},
}

# Where one certificate comes from: the same options at the top of a single-certificate task and in
# each entry of 'certificates'.
CERTIFICATE_SOURCE_SPEC: dict[str, dict[str, t.Any]] = {
    "pfx_path": {"type": "path"},
    "pfx_content": {"type": "str", "no_log": True},
    "pfx_password": {"type": "str", "no_log": True},
    "certificate_path": {"type": "path"},
    "certificate_content": {"type": "str"},
    "private_key_path": {"type": "path"},
    "private_key_content": {"type": "str", "no_log": True},
    "private_key_passphrase": {"type": "str", "no_log": True},
    "chain_path": {"type": "path"},
    "chain_content": {"type": "str"},
    "host_names": {"type": "list", "elements": "str"},
}

CERTIFICATE_SOURCE_RULES: dict[str, t.Any] = {
    "mutually_exclusive": [
        ["pfx_path", "pfx_content", "certificate_path", "certificate_content"],
        ["certificate_path", "certificate_content"],
        ["private_key_path", "private_key_content"],
        ["chain_path", "chain_content"],
        ["pfx_path", "pfx_content", "private_key_path", "private_key_content"],
    ],
    "required_one_of": [["pfx_path", "pfx_content", "certificate_path", "certificate_content"]],
}

CCS_CERT_PUBLISH = {
    "argument_spec": {
        **CERTIFICATE_SOURCE_SPEC,
        "certificates": {
            "type": "list",
            "elements": "dict",
            "options": {**CERTIFICATE_SOURCE_SPEC, "encryption": {"type": "str", "choices": ["compatible", "aes256"]}},
            **CERTIFICATE_SOURCE_RULES,
        },
        "destinations": {"type": "list", "elements": "dict", "required": True, "options": PUBLISH_DESTINATION_SPEC},
        "private_key_password": {"type": "str", "no_log": True},
        "allow_no_private_key_password": {"type": "bool", "default": False},
        "encryption": {"type": "str", "choices": ["compatible", "aes256"], "default": "compatible"},
        "expiry_warning_days": {"type": "int", "default": 30},
        "min_replicas": {"type": "int"},
        "prune": {"type": "bool", "default": False},
    },
    # A task publishes either one certificate (options at the top) or a list of them ('certificates').
    "mutually_exclusive": [*CERTIFICATE_SOURCE_RULES["mutually_exclusive"], *(["certificates", name] for name in CERTIFICATE_SOURCE_SPEC)],
    "required_one_of": [["pfx_path", "pfx_content", "certificate_path", "certificate_content", "certificates"]],
}


ACL_AUDIT_SPEC = {
    "share": {"type": "str", "required": True},
    "reader_accounts": {"type": "list", "elements": "str", "required": True},
    "publisher_accounts": {"type": "list", "elements": "str", "default": []},
    "administrator_accounts": {"type": "list", "elements": "str", "default": ["BUILTIN\\Administrators", "NT AUTHORITY\\SYSTEM"]},
    "administrator_access": {"type": "str", "choices": ["full", "change", "read", "none"], "default": "full"},
}

CCS_STORE_INFO = {
    "argument_spec": {
        "destinations": {"type": "list", "elements": "dict", "required": True, "options": PUBLISH_DESTINATION_SPEC},
        "private_key_password": {"type": "str", "no_log": True},
        "allow_no_private_key_password": {"type": "bool", "default": False},
        "expiry_warning_days": {"type": "int", "default": 30},
        "expiry_error_days": {"type": "int", "default": 7},
        "nodes": {"type": "dict"},
        "store_location": {"type": "str"},
        "acl_audit": {"type": "dict", "options": ACL_AUDIT_SPEC},
    },
}

CCS_RENEW_PLAN = {
    "argument_spec": {
        "destinations": {"type": "list", "elements": "dict", "required": True, "options": PUBLISH_DESTINATION_SPEC},
        "private_key_password": {"type": "str", "no_log": True},
        "allow_no_private_key_password": {"type": "bool", "default": False},
        "renew_before_days": {"type": "int", "default": 30},
        "bound_host_names": {"type": "list", "elements": "str", "default": []},
        "force_host_names": {"type": "list", "elements": "str", "default": []},
        "include_previous": {"type": "bool", "default": True},
    },
}

CCS_VERIFY = {
    "argument_spec": {
        "host_names": {"type": "list", "elements": "str", "default": []},
        "sites": {"type": "list", "elements": "str", "default": []},
        "from": {"type": "str", "choices": ["controller", "node"], "default": "controller"},
        "address": {"type": "str"},
        "port": {"type": "int", "default": 443},
        "port_map": {"type": "dict", "default": {}},
        "wildcard_label": {"type": "str", "default": "ccs-verify"},
        "timeout": {"type": "float", "default": 10.0},
        "concurrency": {"type": "int", "default": 32},
        "ca_path": {"type": "path"},
        "expected": {"type": "dict", "default": {}},
        "store": {"type": "dict", "options": PUBLISH_DESTINATION_SPEC},
        "private_key_password": {"type": "str", "no_log": True},
        "expiry_warning_days": {"type": "int", "default": 30},
        "fail_on": {"type": "str", "choices": ["problem", "warning", "never"], "default": "problem"},
    },
}
