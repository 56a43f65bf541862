"""The bad-input table of ccs_provider: each case fails before any host operation, naming the option."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._provider.request import parse_request, validate_store_location, validate_user_name

GOOD: dict[str, t.Any] = {
    "state": "enabled",
    "store_location": "\\\\fs01\\ccs",
    "user_name": "LAB\\svc-ccs",
    "password": "Lab-Reader-Pa55!",
    "private_key_password": "pfx-secret",
    "allow_no_private_key_password": False,
    "polling_interval": None,
    "install_feature": True,
    "install_iis": False,
    "update_secrets": "on_change",
}

# (id, option changes, option named in the message, other text expected in the message)
BAD_INPUT = [
    ("relative-path", {"store_location": "ccs\\store"}, "store_location", "not an absolute path"),
    ("dot-relative-path", {"store_location": ".\\ccs"}, "store_location", "not an absolute path"),
    ("parent-segment", {"store_location": "D:\\ccs\\..\\windows"}, "store_location", "relative segments"),
    ("drive-only-no-slash", {"store_location": "D:ccs"}, "store_location", "not an absolute path"),
    ("forward-slashes", {"store_location": "//fs01/ccs"}, "store_location", "backslashes"),
    ("unc-without-share", {"store_location": "\\\\fs01"}, "store_location", "server and a share"),
    ("unc-empty-part", {"store_location": "\\\\fs01\\\\ccs"}, "store_location", "without empty parts"),
    ("unc-bad-server", {"store_location": "\\\\fs_01!\\ccs"}, "store_location", "not a valid server name"),
    ("device-path", {"store_location": "\\\\?\\D:\\ccs"}, "store_location", "not a valid server name"),
    ("forbidden-char-star", {"store_location": "D:\\cc*s"}, "store_location", "Windows forbids"),
    ("forbidden-char-pipe", {"store_location": "D:\\ccs|x"}, "store_location", "Windows forbids"),
    ("forbidden-char-colon", {"store_location": "D:\\ccs:stream"}, "store_location", "Windows forbids"),
    ("trailing-dot", {"store_location": "D:\\ccs."}, "store_location", "ends with a dot"),
    ("empty-path", {"store_location": "  "}, "store_location", "must not be empty"),
    ("path-double-quote", {"store_location": 'D:\\ccs"; Remove-Item C:\\'}, "store_location", "Windows forbids"),
    ("path-single-quote", {"store_location": "D:\\ccs'"}, "store_location", "Windows forbids"),
    ("path-subexpression", {"store_location": "D:\\ccs$(Remove-Item C:\\)"}, "store_location", "'$('"),
    ("path-backtick", {"store_location": "D:\\cc`s"}, "store_location", "Windows forbids"),
    ("path-newline", {"store_location": "D:\\ccs\nRemove-Item"}, "store_location", "control character"),
    ("path-semicolon", {"store_location": "\\\\fs01\\ccs;calc"}, "store_location", "Windows forbids"),
    ("empty-user", {"user_name": ""}, "user_name", "must not be empty"),
    ("blank-user", {"user_name": "   "}, "user_name", "must not be empty"),
    ("user-without-domain", {"user_name": "svc-ccs"}, "user_name", "ambiguous"),
    ("user-empty-account", {"user_name": "LAB\\"}, "user_name", "not a valid account name"),
    ("user-quote", {"user_name": "LAB\\svc'ccs"}, "user_name", "not a valid account name"),
    ("user-double-quote", {"user_name": 'LAB\\svc"ccs'}, "user_name", "not a valid account name"),
    ("user-subexpression", {"user_name": "LAB\\$(whoami)"}, "user_name", "'$('"),
    ("user-backtick", {"user_name": "LAB\\svc`ccs"}, "user_name", "not a valid account name"),
    ("user-semicolon", {"user_name": "LAB\\svc;calc"}, "user_name", "not a valid account name"),
    ("user-newline", {"user_name": "LAB\\svc\nccs"}, "user_name", "control character"),
    ("user-bad-domain", {"user_name": "L;AB\\svc"}, "user_name", "not a valid domain name"),
    ("upn-without-dns-domain", {"user_name": "svc@lab"}, "user_name", "not a valid DNS domain"),
    ("dollar-inside-name", {"user_name": "LAB\\s$vc"}, "user_name", "not a valid account name"),
    ("empty-password", {"password": ""}, "password", "must not be empty"),
    ("password-newline", {"password": "Lab-Reader\nPa55"}, "password", "control character"),
    ("key-password-newline", {"private_key_password": "pfx\r\nsecret"}, "private_key_password", "control character"),
    ("missing-key-password", {"private_key_password": None}, "private_key_password", "allow_no_private_key_password"),
    ("polling-zero", {"polling_interval": 0}, "polling_interval", "between 1 and"),
    ("polling-negative", {"polling_interval": -5}, "polling_interval", "between 1 and"),
    ("polling-too-big", {"polling_interval": 2**32}, "polling_interval", "between 1 and"),
    ("settings-with-disabled", {"state": "disabled"}, "store_location, user_name, password, private_key_password", "only used with state=enabled"),
    ("polling-with-absent", {"state": "absent", "store_location": None, "user_name": None, "password": None,
                             "private_key_password": None, "polling_interval": 60}, "polling_interval", "only used with state=enabled"),
]


@pytest.mark.parametrize(("changes", "option", "text"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_refused_naming_the_option(changes: dict[str, t.Any], option: str, text: str) -> None:
    with pytest.raises(UserInputError) as raised:
        parse_request({**GOOD, **changes})
    message = str(raised.value)
    assert message.startswith(option + ":"), message
    assert text in message, message
    # The fix is part of the message, and secrets never are.
    for secret in (GOOD["password"], GOOD["private_key_password"], "Lab-Reader\nPa55", "pfx\r\nsecret"):
        assert secret not in message


@pytest.mark.parametrize(("user_name", "rule", "other_rule"), [
    ("LAB\\svc\nccs", "control character", "$("),
    ("LAB\\$(whoami)", "'$('", "control character"),
])
def test_a_bad_user_name_is_told_only_the_rule_it_broke(user_name: str, rule: str, other_rule: str) -> None:
    with pytest.raises(UserInputError) as raised:
        validate_user_name(user_name)
    assert rule in str(raised.value) and other_rule not in str(raised.value)


@pytest.mark.parametrize(
    "path",
    ["D:\\CCS", "D:\\CCS\\", "d:\\", "\\\\fs01\\ccs", "\\\\fs01.lab.local\\ccs\\web", "\\\\10.0.0.5\\ccs", "\\\\fs01\\ccs$", "E:\\Cert Store\\prod (2026)"],
)
def test_good_store_locations_are_accepted(path: str) -> None:
    assert validate_store_location(path) == path.rstrip("\\") or path == "d:\\"


@pytest.mark.parametrize("name", ["LAB\\svc-ccs", "lab.local\\svc.ccs", "svc-ccs@lab.local", ".\\ccsreader", "LAB\\gmsa-ccs$", "WEB01\\local user"])
def test_good_user_names_are_accepted(name: str) -> None:
    assert validate_user_name(name) == name


@pytest.mark.parametrize("password", ["it's \"$(whoami)\" `; echo", "Pa55;word$", "пароль-ünïcode"])
def test_hostile_characters_in_secrets_are_data_not_errors(password: str) -> None:
    # Secrets travel as JSON data and are never built into code, so any printable character is a valid password.
    request = parse_request({**GOOD, "password": password, "private_key_password": password})[0]
    assert (request.password, request.private_key_password) == (password, password)


def test_no_private_key_password_needs_the_opt_out_and_warns() -> None:
    request, warnings = parse_request({**GOOD, "private_key_password": None, "allow_no_private_key_password": True})
    assert request.private_key_password is None
    assert len(warnings) == 1 and "private_key_password is not set" in warnings[0]


def test_disabled_and_absent_need_no_settings() -> None:
    bare = {**GOOD, "store_location": None, "user_name": None, "password": None, "private_key_password": None}
    for state in ("disabled", "absent"):
        request, warnings = parse_request({**bare, "state": state})
        assert (request.state, warnings) == (state, [])
