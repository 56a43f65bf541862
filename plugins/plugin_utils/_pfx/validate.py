# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refuse certificates IIS cannot serve from the store, and warn about those it would serve badly."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from ansible_collections.iis.ccs.plugins.plugin_utils._core.crypto_import import ExtendedKeyUsageOID, ec, rsa, x509
from ansible_collections.iis.ccs.plugins.plugin_utils._core.dns_names import HostName, certificate_covers
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import (
    CertificateBundle,
    CertificateError,
    is_self_issued,
    issued_by,
    key_type_name,
)

MINIMUM_RSA_BITS = 2048
SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")


def validate_bundle(bundle: CertificateBundle, host_names: Sequence[HostName], *, now: datetime.datetime, expiry_warning_days: int) -> list[str]:
    """Refuse what IIS cannot serve; return warnings for what it can serve badly.

    Errors: key missing or not the certificate's, expired, not yet valid, an extended key usage
    without serverAuth, a host name the certificate does not cover, RSA under 2048 bits, EC curves
    other than P-256/P-384/P-521, other key types. Warnings: expiry within expiry_warning_days,
    missing or broken chain (see chain_warnings).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    _check_key(bundle)
    check_validity_period(bundle.source_option, bundle.thumbprint, bundle.not_before, bundle.not_after, now)
    _check_server_auth(bundle)
    _check_host_names(bundle, host_names)
    return expiry_warnings(bundle.thumbprint, bundle.not_after, now, expiry_warning_days) + chain_warnings(bundle)


# ---------------------------------------------------------------- validation


def _check_key(bundle: CertificateBundle) -> None:
    # A bundle always holds the certificate's own key: load_pfx picks the certificate by its key and
    # load_pem refuses a key that does not match, so only the key's kind and size are checked here.
    key = bundle.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MINIMUM_RSA_BITS:
            raise CertificateError(
                f"{bundle.source_option}: the RSA key has {key.key_size} bits; use a certificate with an RSA key of at least {MINIMUM_RSA_BITS} bits"
            )
        return
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in SUPPORTED_CURVES:
            raise CertificateError(f"{bundle.source_option}: the EC key uses curve {key.curve.name}; use a certificate with a P-256, P-384 or P-521 key")
        return
    raise CertificateError(
        f"{bundle.source_option}: IIS cannot serve a certificate with a {key_type_name(key)} key from the Central Certificate Store; "
        "use an RSA or ECDSA certificate"
    )


def check_validity_period(option: str, thumbprint: str, not_before: datetime.datetime, not_after: datetime.datetime, now: datetime.datetime) -> None:
    """Expired or not yet valid: the time-dependent refusal, checked on every run (also from recorded dates)."""
    if now > not_after:
        raise CertificateError(f"{option}: the certificate {thumbprint} expired on {_day(not_after)}; give a current certificate")
    if now < not_before:
        raise CertificateError(
            f"{option}: the certificate {thumbprint} is not valid before {_day(not_before)}; publish it once it is valid, or check the controller clock"
        )


def _check_server_auth(bundle: CertificateBundle) -> None:
    try:
        usages = bundle.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return  # no EKU extension: any use is allowed
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        raise CertificateError(
            f"{bundle.source_option}: the certificate {bundle.thumbprint} is not issued for server authentication "
            "(its extended key usage lacks serverAuth); use a TLS server certificate"
        )


def _check_host_names(bundle: CertificateBundle, host_names: Sequence[HostName]) -> None:
    uncovered = [host for host in host_names if not certificate_covers(bundle.dns_names, host)]
    if uncovered:
        hosts = ", ".join(repr(host.unicode) for host in uncovered)
        issued_for = ", ".join(repr(name) for name in bundle.dns_names) or "no DNS name"
        raise CertificateError(
            f"host_names: the certificate {bundle.thumbprint} does not cover {hosts} (it is issued for {issued_for}); "
            "give a certificate whose subject alternative names include every host name"
        )


def expiry_warnings(thumbprint: str, not_after: datetime.datetime, now: datetime.datetime, expiry_warning_days: int) -> list[str]:
    remaining = not_after - now
    if remaining >= datetime.timedelta(days=expiry_warning_days):
        return []
    return [f"the certificate {thumbprint} expires on {_day(not_after)}, in {remaining.days} days; renew it"]


def chain_warnings(bundle: CertificateBundle) -> list[str]:
    """Warn when clients may not be able to build a path to a trusted root from what IIS sends.

    A chain that ends in an intermediate whose issuer (a root) is absent is normal and not
    warned about: roots come from the client's trust store, and ACME fullchain files omit them.
    What is warned about: no intermediates at all for a CA-issued leaf, and certificates that do
    not link up (the leaf's issuer missing while others are present, or unrelated extras).
    """
    if is_self_issued(bundle.certificate):
        return []
    if not bundle.chain:
        return [
            f"the certificate {bundle.thumbprint} comes without its intermediate certificates; "
            "clients that do not already have them will not trust the site: include the chain"
        ]
    linked = _linked_length(bundle.certificate, bundle.chain)
    if linked == 0:
        return [
            f"the chain of certificate {bundle.thumbprint} is incomplete: the issuer of the certificate "
            f"({bundle.certificate.issuer.rfc4514_string()!r}) is missing; include the intermediate certificates"
        ]
    if linked < len(bundle.chain):
        extras = ", ".join(repr(cert.subject.rfc4514_string()) for cert in bundle.chain[linked:])
        return [f"the chain of certificate {bundle.thumbprint} holds certificates that are not on its issuing path ({extras}); they are published but not used"]
    return []


def _linked_length(leaf: x509.Certificate, chain: Sequence[x509.Certificate]) -> int:
    """How many certificates at the start of chain each issue the one before."""
    current = leaf
    for index, cert in enumerate(chain):
        if is_self_issued(current) or not issued_by(current, cert):
            return index
        current = cert
    return len(chain)


def _day(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
