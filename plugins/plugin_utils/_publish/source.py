# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the task's source options into one validated certificate bundle and its host names.

Paths are controller paths; *_content options come from the task (typically vault).
Every failure names the option and the fix, and never holds a secret.
"""

from __future__ import annotations

import base64
import binascii
import typing as t
from datetime import datetime

from ansible_collections.iis.ccs.plugins.plugin_utils._core import dns_names
from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CertificateBundle, CertificateError, load_pem, load_pfx
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.validate import chain_warnings, validate_bundle


class Source(t.NamedTuple):
    bundle: CertificateBundle
    host_names: tuple[dns_names.HostName, ...]
    warnings: list[str]
    chain_warnings: tuple[str, ...] = ()  # the part of warnings that depends only on the bytes (recorded)


def _read_file(option: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UserInputError(f"{option}: cannot read {path} on the controller ({exc.strerror}); give the path of a readable file") from None


def _text_bytes(value: str) -> bytes:
    return value.encode("utf-8")


def _pfx_content(value: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise UserInputError("pfx_content: not valid base64; give the PFX file base64-encoded (for example with the b64encode filter)") from None


class RawSource(t.NamedTuple):
    """A source's bytes as given, before anything is parsed: what the source digest covers."""

    kind: str  # "pfx" or "pem"
    option: str  # the option the certificate comes from, for messages
    parts: tuple[bytes, ...]  # pfx: (file,); pem: (certificate, key, chain or b"")


def read_source(params: t.Mapping[str, t.Any]) -> RawSource:
    """Read the source files (or decode the *_content options); no parsing, so it is cheap."""
    if params.get("pfx_path") or params.get("pfx_content"):
        if params.get("pfx_path"):
            return RawSource("pfx", "pfx_path", (_read_file("pfx_path", params["pfx_path"]),))
        return RawSource("pfx", "pfx_content", (_pfx_content(params["pfx_content"]),))
    if params.get("pfx_password") is not None:
        raise UserInputError("pfx_password: only used with pfx_path or pfx_content; remove it for PEM sources")
    certificate = (
        _read_file("certificate_path", params["certificate_path"]) if params.get("certificate_path") else _text_bytes(params["certificate_content"])
    )
    if params.get("private_key_path"):
        key = _read_file("private_key_path", params["private_key_path"])
    elif params.get("private_key_content"):
        key = _text_bytes(params["private_key_content"])
    else:
        raise UserInputError("private_key_path: a PEM certificate needs its private key; set private_key_path or private_key_content")
    chain = b""
    if params.get("chain_path"):
        chain = _read_file("chain_path", params["chain_path"])
    elif params.get("chain_content"):
        chain = _text_bytes(params["chain_content"])
    return RawSource("pem", "certificate_path" if params.get("certificate_path") else "certificate_content", (certificate, key, chain))


def load_source(params: t.Mapping[str, t.Any], raw: RawSource | None = None) -> CertificateBundle:
    """The full load: parse and decrypt everything, including the key consistency check."""
    raw = raw or read_source(params)
    try:
        if raw.kind == "pfx":
            return load_pfx(raw.parts[0], params.get("pfx_password"), option=raw.option, password_option="pfx_password")
        certificate, key, chain = raw.parts
        return load_pem(
            certificate,
            key,
            chain or None,
            params.get("private_key_passphrase"),
            certificate_option=raw.option,
            private_key_option="private_key_path" if params.get("private_key_path") else "private_key_content",
            chain_option="chain_path" if params.get("chain_path") else "chain_content",
        )
    except CertificateError as exc:
        raise UserInputError(str(exc)) from None


def select_host_names(bundle: CertificateBundle, requested: t.Sequence[str] | None) -> tuple[dns_names.HostName, ...]:
    """The requested names (each must be covered), or every DNS name of the certificate."""
    try:
        if requested:
            names = [dns_names.parse_host_name(text, option="host_names") for text in requested]
            for name in names:
                if not dns_names.certificate_covers(bundle.dns_names, name):
                    raise UserInputError(
                        f"host_names: the certificate does not cover {name.unicode!r} (it covers: {', '.join(bundle.dns_names) or 'no DNS names'}); "
                        "remove the name or publish a certificate that includes it"
                    )
        else:
            if not bundle.dns_names:
                raise UserInputError("host_names: the certificate has no DNS names; list the host names to publish it for")
            names = [dns_names.parse_host_name(text, option="the certificate's DNS names") for text in bundle.dns_names]
    except dns_names.HostNameError as exc:
        raise UserInputError(str(exc)) from None
    unique: dict[str, dns_names.HostName] = {}
    for name in names:
        unique.setdefault(name.file_name.lower(), name)
    return tuple(unique.values())


def prepare(params: t.Mapping[str, t.Any], *, now: datetime, raw: RawSource | None = None) -> Source:
    """The full path: load, then every check validate_bundle makes."""
    bundle = load_source(params, raw)
    host_names = select_host_names(bundle, params.get("host_names"))
    try:
        warnings = validate_bundle(bundle, host_names, now=now, expiry_warning_days=int(params["expiry_warning_days"]))
    except CertificateError as exc:
        raise UserInputError(str(exc)) from None
    return Source(bundle, host_names, list(warnings), tuple(chain_warnings(bundle)))
