# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of iis.ccs.ccs_provider options, before anything is sent to a host.

Parameters travel to the host as JSON data and are never built into PowerShell code, so
none of these checks is what keeps the host safe. They exist so that a typo or a pasted
fragment of a command line fails at once, naming the option, instead of being written
into the IIS configuration. Secrets are data with any printable character allowed (a
password may well contain quotes or ``$(``); only control characters are refused, and
no message ever repeats a secret.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError

# Characters Windows forbids in a file or folder name, plus the ones that only appear
# in a value that was meant to be PowerShell or shell code.
_PATH_FORBIDDEN = set('<>:"|?*') | {"`", "'", ";"}
_CODE_FRAGMENTS = ("$(", "${")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE_PATH = re.compile(r"^[A-Za-z]:\\")
_SERVER_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
# Domain part of DOMAIN\user: a NetBIOS or DNS domain name, or "." for a local account.
_DOMAIN_NAME = re.compile(r"^(\.|[A-Za-z0-9][A-Za-z0-9.-]{0,254})$")
# sAMAccountName: no " / \ [ ] : ; | = , + * ? < > @, no quotes or backticks; "$" only
# at the end (computer accounts and gMSAs).
_ACCOUNT_NAME = re.compile(r"^[^\"/\\\[\]:;|=,+*?<>@'`$\x00-\x1f\x7f]{1,104}\$?$")

MAX_POLLING_INTERVAL = 2**31 - 1


@dataclass(frozen=True)
class ProviderRequest:
    state: str
    store_location: str
    user_name: str
    password: str = ""
    private_key_password: str | None = None
    polling_interval: int | None = None
    install_feature: bool = True
    install_iis: bool = False
    update_secrets: str = "on_change"


def parse_request(params: t.Mapping[str, t.Any]) -> tuple[ProviderRequest, list[str]]:
    """Validated request plus warnings; raises UserInputError naming the option."""
    state = params["state"]
    warnings: list[str] = []
    polling_interval = _polling_interval(params.get("polling_interval"))
    if state != "enabled":
        settings = [name for name in ("store_location", "user_name", "password", "private_key_password") if params.get(name) is not None]
        if settings:
            raise UserInputError(
                f"{', '.join(settings)}: only used with state=enabled (IIS refuses to change settings of a disabled provider); "
                f"remove them, or set state=enabled"
            )
        if polling_interval is not None:
            raise UserInputError("polling_interval: only used with state=enabled; remove it, or set state=enabled")
        return ProviderRequest(state=state, store_location="", user_name="", install_feature=params["install_feature"],
                               install_iis=params["install_iis"]), warnings

    store_location = validate_store_location(params.get("store_location") or "")
    user_name = validate_user_name(params.get("user_name") or "")
    password = _secret("password", params.get("password"))
    if not password:
        raise UserInputError("password: must not be empty; give the password of user_name")
    private_key_password = _secret("private_key_password", params.get("private_key_password")) or None
    if private_key_password is None:
        if not params["allow_no_private_key_password"]:
            raise UserInputError(
                "private_key_password: required; set the password that protects every PFX file in the store, "
                "or set allow_no_private_key_password: true to run the provider without one (not recommended)"
            )
        warnings.append(
            "private_key_password is not set (allow_no_private_key_password: true): PFX files in the store must then carry "
            "no password, so anyone who can read the share gets the private keys. Setting one is strongly recommended."
        )
    return ProviderRequest(
        state=state,
        store_location=store_location,
        user_name=user_name,
        password=password,
        private_key_password=private_key_password,
        polling_interval=polling_interval,
        install_feature=params["install_feature"],
        install_iis=params["install_iis"],
        update_secrets=params["update_secrets"],
    ), warnings


def validate_store_location(path: str) -> str:
    """An absolute local path (D:\\CCS) or a UNC path (\\\\server\\share[\\folder])."""
    fix = "give an absolute local path like D:\\CCS or a UNC path like \\\\fileserver\\ccs"
    if not path.strip():
        raise UserInputError(f"store_location: must not be empty; {fix}")
    if _CONTROL.search(path):
        raise UserInputError(f"store_location: contains a control character (newline, tab...); {fix}")
    if "/" in path:
        raise UserInputError(f"store_location: use backslashes, not forward slashes; {fix}")
    if any(fragment in path for fragment in _CODE_FRAGMENTS):
        raise UserInputError(f"store_location: contains '$(' or '${{' which is not part of a path; {fix}")
    if path.startswith("\\\\"):
        parts = path[2:].rstrip("\\").split("\\")
        if len(parts) < 2 or not all(parts):
            raise UserInputError(f"store_location: a UNC path needs a server and a share, without empty parts; {fix}")
        if parts[0] in ("?", ".") or not _SERVER_NAME.match(parts[0]):
            raise UserInputError(f"store_location: '{parts[0]}' is not a valid server name; {fix}")
        _check_components(parts[1:], fix)
        return "\\\\" + "\\".join(parts)
    if not _DRIVE_PATH.match(path):
        raise UserInputError(f"store_location: '{path}' is not an absolute path; {fix}")
    parts = path[3:].rstrip("\\").split("\\")
    if parts == [""]:
        return path[:3]
    if not all(parts):
        raise UserInputError(f"store_location: empty folder name (double backslash) in '{path}'; {fix}")
    _check_components(parts, fix)
    return path[:3] + "\\".join(parts)


def _check_components(parts: t.Sequence[str], fix: str) -> None:
    for part in parts:
        bad = sorted(set(part) & _PATH_FORBIDDEN)
        if bad:
            raise UserInputError(f"store_location: the folder name '{part}' contains {' '.join(bad)}, which Windows forbids in names; {fix}")
        if part in (".", ".."):
            raise UserInputError(f"store_location: relative segments ('.' or '..') are not allowed; {fix}")
        if part != part.rstrip(" ."):
            raise UserInputError(f"store_location: the folder name '{part}' ends with a dot or a space, which Windows strips; {fix}")


def validate_user_name(name: str) -> str:
    """DOMAIN\\user, .\\localuser, user@domain.fqdn or DOMAIN\\gmsa$."""
    fix = "use DOMAIN\\user, user@domain.example, .\\localuser (a local account of the node) or DOMAIN\\account$"
    if not name.strip():
        raise UserInputError(f"user_name: must not be empty; {fix}")
    if _CONTROL.search(name):
        raise UserInputError(f"user_name: contains a control character (newline, tab...), which no account name has; {fix}")
    if any(fragment in name for fragment in _CODE_FRAGMENTS):
        raise UserInputError(f"user_name: contains '$(' or '${{', which no account name has; {fix}")
    if "\\" in name:
        domain, account = name.split("\\", 1)
        if not _DOMAIN_NAME.match(domain):
            raise UserInputError(f"user_name: '{domain}' is not a valid domain name; {fix}")
    elif "@" in name:
        account, domain = name.rsplit("@", 1)
        if domain == "." or not _DOMAIN_NAME.match(domain) or "." not in domain:
            raise UserInputError(f"user_name: '{domain}' is not a valid DNS domain for a user@domain name; {fix}")
    else:
        raise UserInputError(f"user_name: '{name}' has no domain, so it is ambiguous; {fix}")
    if not _ACCOUNT_NAME.match(account):
        raise UserInputError(f"user_name: '{account}' is not a valid account name (quotes, backticks, ; : | and similar are not allowed); {fix}")
    return name


def _secret(option: str, value: t.Any) -> str:
    text = "" if value is None else str(value)
    if _CONTROL.search(text):
        # Never echo any part of the value.
        raise UserInputError(f"{option}: contains a control character (newline, tab...); IIS cannot store it, so give the password without one")
    return text


def _polling_interval(value: t.Any) -> int | None:
    if value is None:
        return None
    if not 1 <= int(value) <= MAX_POLLING_INTERVAL:
        raise UserInputError(f"polling_interval: must be between 1 and {MAX_POLLING_INTERVAL} seconds (IIS default: 300)")
    return int(value)
