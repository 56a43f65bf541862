# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a served certificate means for one host name: facts, one verdict and a fix hint.

The verdict is the first problem found, in this order (the most actionable first):
connection-level errors, wrong certificate (not the store's), expired, name not covered,
incomplete chain, untrusted chain, expiring soon; else ``ok``.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._core import dns_names
from ansible_collections.iis.ccs.plugins.plugin_utils._core.crypto_import import x509
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import _dns_names, _utc, is_self_issued, issued_by
from ansible_collections.iis.ccs.plugins.plugin_utils._verify.handshake import (
    CONNECTION_REFUSED,
    HANDSHAKE_FAILURE,
    RESET,
    TIMEOUT,
    UNREACHABLE,
    Served,
)

OK = "ok"
WRONG_CERTIFICATE = "wrong_certificate"
EXPIRED = "expired"
NAME_MISMATCH = "name_mismatch"
INCOMPLETE_CHAIN = "incomplete_chain"
UNTRUSTED = "untrusted"
EXPIRING = "expiring"
WARNINGS = frozenset({EXPIRING})

HINTS: dict[str, str] = {
    CONNECTION_REFUSED: "nothing listens on this address and port: check the site's https binding and port, and that the site is started",
    HANDSHAKE_FAILURE: "the node has no certificate for this name: check that <name>.pfx (or _.<parent>.pfx) exists in the store, "
    "that the CCS provider account can read the share and that its private-key password opens the file, and that a binding covers the name",
    RESET: "the node dropped the handshake, as HTTP.sys does when it finds no certificate for the name: check the store file, "
    "the provider account and password, and the binding",
    TIMEOUT: "no answer in time: check firewalls and the address, or raise timeout",
    UNREACHABLE: "the address cannot be reached from here: check address/ansible_host, or use from: node",
    WRONG_CERTIFICATE: "the node serves another certificate than the store holds: wait for the CCS polling interval, "
    "recycle the cache (iisreset), or look for a non-SNI *:443 binding answering instead of CCS",
    EXPIRED: "publish a renewed certificate for this name (iis.ccs.ccs_cert_publish)",
    NAME_MISMATCH: "the served certificate does not cover this name: publish a certificate whose DNS names include it",
    INCOMPLETE_CHAIN: "the node does not send the intermediate certificates: publish the PFX with its full chain (chain_path)",
    UNTRUSTED: "the chain does not lead to a trusted root: check ca_path, or the issuing CA",
    EXPIRING: "renew before it expires (expiry_warning_days)",
}


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What the certificate for a name should be: its SHA-256 (or SHA-1) thumbprint, when known."""

    thumbprint: str = ""
    source: str = ""  # "store", "expected" or "" (nothing to compare with)
    problem: str = ""  # why the store's certificate could not be read


@dataclasses.dataclass(frozen=True)
class ChainFacts:
    """What a served chain says, whoever served it and for whichever name."""

    sha256: str
    sha1: str
    subject: str
    dns_names: tuple[str, ...]
    not_after: datetime.datetime
    chain: dict[str, t.Any]


@dataclasses.dataclass(frozen=True)
class Policy:
    anchors: tuple[x509.Certificate, ...]
    now: datetime.datetime
    expiry_warning_days: int
    # A farm serves the same few chains on every node: each distinct chain is parsed and built once per task.
    _seen: dict[t.Any, t.Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def facts(self, chain: tuple[bytes, ...]) -> ChainFacts:
        found = self._seen.get(chain)
        if found is None:
            certificates = [x509.load_der_x509_certificate(der) for der in chain]
            leaf = certificates[0]
            sha256, sha1 = _fingerprints(chain[0])
            found = ChainFacts(sha256, sha1, leaf.subject.rfc4514_string(), _dns_names(leaf), _utc(leaf, "not_valid_after"),
                               chain_report(certificates, self.anchors))
            self._seen[chain] = found
        return t.cast(ChainFacts, found)

    def covers(self, names: tuple[str, ...], sni: str) -> bool:
        key = ("covers", names, sni)
        if key not in self._seen:
            self._seen[key] = dns_names.certificate_covers(names, dns_names.parse_host_name(sni, option="name"))
        return bool(self._seen[key])


def chain_report(served: t.Sequence[x509.Certificate], anchors: t.Sequence[x509.Certificate]) -> dict[str, t.Any]:
    """Does the served chain lead to an anchor? If not, which issuer is missing (an intermediate, or the root)."""
    current, pool, path = served[0], list(served[1:]), 0
    while path <= len(served) + 1:
        anchor = next((a for a in anchors if issued_by(current, a)), None)
        if anchor is not None:
            return {"complete": True, "trusted": True, "missing": [], "anchor": anchor.subject.rfc4514_string()}
        if is_self_issued(current):
            return {"complete": True, "trusted": False, "missing": [], "anchor": ""}
        issuer = next((c for c in pool if issued_by(current, c)), None)
        if issuer is None:
            # A leaf whose issuer is neither sent nor trusted lacks an intermediate; a sent CA whose
            # issuer is unknown leads to a root that is not trusted here.
            missing = [current.issuer.rfc4514_string()] if path == 0 else []
            return {"complete": path > 0, "trusted": False, "missing": missing, "anchor": ""}
        pool.remove(issuer)
        current, path = issuer, path + 1
    return {"complete": False, "trusted": False, "missing": [], "anchor": ""}


def _fingerprints(der: bytes) -> tuple[str, str]:
    return hashlib.sha256(der).hexdigest().upper(), hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - Windows thumbprint


def _matches(expected: str, sha256: str, sha1: str) -> bool:
    wanted = expected.replace(":", "").replace(" ", "").upper()
    return wanted in (sha256, sha1)


def judge(served: Served, expectation: Expectation, policy: Policy) -> dict[str, t.Any]:
    target = served.target
    result: dict[str, t.Any] = {"name": target.name, "sni": target.sni, "address": target.address, "port": target.port}
    if served.error or not served.chain:
        verdict = served.error or HANDSHAKE_FAILURE
        result.update(verdict=verdict, ok=False, hint=HINTS[verdict], detail=served.detail or "no certificate was sent")
        return result
    facts = policy.facts(served.chain)
    days_left = (facts.not_after - policy.now).days
    covers = policy.covers(facts.dns_names, target.sni)
    matches = _matches(expectation.thumbprint, facts.sha256, facts.sha1) if expectation.thumbprint else None
    chain = facts.chain
    result.update(
        thumbprint_sha256=facts.sha256,
        thumbprint=facts.sha1,
        subject=facts.subject,
        dns_names=list(facts.dns_names),
        not_after=facts.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        days_left=days_left,
        tls_version=served.tls_version,
        chain_complete=chain["complete"],
        chain_trusted=chain["trusted"],
        missing_intermediates=list(chain["missing"]),
        covers_name=covers,
        matches_store=matches,
        expected_thumbprint=expectation.thumbprint or None,
        expected_from=expectation.source or None,
    )
    verdict = _verdict(matches, facts.not_after <= policy.now, covers, chain, days_left < policy.expiry_warning_days)
    result.update(verdict=verdict, ok=verdict == OK, hint=HINTS.get(verdict, ""))
    if expectation.problem:
        result["store_problem"] = expectation.problem
    return result


def _verdict(matches: bool | None, expired: bool, covers: bool, chain: t.Mapping[str, t.Any], expiring: bool) -> str:
    if matches is False:
        return WRONG_CERTIFICATE
    if expired:
        return EXPIRED
    if not covers:
        return NAME_MISMATCH
    if not chain["complete"]:
        return INCOMPLETE_CHAIN
    if not chain["trusted"]:
        return UNTRUSTED
    return EXPIRING if expiring else OK
