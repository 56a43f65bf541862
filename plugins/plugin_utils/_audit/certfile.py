# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one PFX file in the store is, opened the way IIS opens it: with the store's private key password."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core.crypto_import import ec, rsa
from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import HostName, HostNameError, certificate_covers, parse_file_name
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CertificateBundle, CertificateError, is_self_issued, key_type_name, load_pfx
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.der import looks_like_pfx, pfx_encryption
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.validate import chain_warnings


@dataclasses.dataclass(frozen=True)
class CertFacts:
    """Everything the audit reports about one file's content; no key material, no password."""

    opened: bool
    open_error: str | None = None
    identity: str = ""  # equal for the same certificate, key and chain, although each export differs byte for byte
    thumbprint: str | None = None
    subject: str | None = None
    issuer: str | None = None
    dns_names: tuple[str, ...] = ()
    not_before: str | None = None
    not_after: str | None = None
    days_left: int | None = None
    key_type: str | None = None
    key_size: int | None = None
    encryption: str = "other"
    self_signed: bool = False
    chain_length: int = 0
    chain_problem: str | None = None

    def public(self) -> dict[str, t.Any]:
        data = dataclasses.asdict(self)
        data["dns_names"] = list(self.dns_names)
        data["chain_complete"] = self.opened and self.chain_problem is None
        return data


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def analyse(data: bytes, password: str | None, now: datetime.datetime) -> CertFacts:
    """Open the file with the store password; a file that does not open tells why, never with its bytes."""
    encryption = pfx_encryption(data)
    try:
        bundle = load_pfx(data, password, option="store file", password_option="private_key_password")
    except CertificateError:
        return CertFacts(opened=False, open_error=_open_error(data), identity="sha256:" + hashlib.sha256(data).hexdigest()[:32], encryption=encryption)
    return _facts(bundle, encryption, now)


def _open_error(data: bytes) -> str:
    if not looks_like_pfx(data):
        return "not a PFX file (damaged, or another format)"
    return "cannot be opened with the store's private key password, or holds no usable key and certificate"


def _facts(bundle: CertificateBundle, encryption: str, now: datetime.datetime) -> CertFacts:
    key_type, key_size = describe_key(bundle.private_key)
    problems = chain_warnings(bundle)
    return CertFacts(
        opened=True,
        identity="bundle:" + hashlib.sha256(bundle.identity.encode("ascii")).hexdigest()[:32],
        thumbprint=bundle.thumbprint.upper(),
        subject=bundle.certificate.subject.rfc4514_string(),
        issuer=bundle.certificate.issuer.rfc4514_string(),
        dns_names=bundle.dns_names,
        not_before=iso(bundle.not_before),
        not_after=iso(bundle.not_after),
        days_left=days_left(bundle.not_after, now),
        key_type=key_type,
        key_size=key_size,
        encryption=encryption,
        self_signed=is_self_issued(bundle.certificate),
        chain_length=len(bundle.chain),
        chain_problem=problems[0] if problems else None,
    )


def days_left(not_after: datetime.datetime, now: datetime.datetime) -> int:
    """Whole days until expiry; negative once expired (floor, so "0" means later today)."""
    return int((not_after - now).total_seconds() // 86400)


def describe_key(key: object) -> tuple[str, int | None]:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"ECDSA {key.curve.name}", key.curve.key_size
    return key_type_name(key), None


def host_name_of(file_name: str) -> HostName | None:
    """The host name IIS would look this file up for, or None when no SNI name maps to it."""
    try:
        return parse_file_name(file_name)
    except HostNameError:
        return None


def name_matches(host: HostName | None, facts: CertFacts) -> bool:
    """Whether the certificate covers the host name its file is looked up for (None: no host name)."""
    return host is not None and facts.opened and certificate_covers(facts.dns_names, host)
