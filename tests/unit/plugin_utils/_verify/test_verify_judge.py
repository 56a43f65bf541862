"""ccs_verify's judgement of what a node served, over the generated certificate corpus (no network):
verdict order, chain building to the anchors, name coverage, expiry, and how socket errors become verdicts."""

from __future__ import annotations

import datetime
import errno
import ssl
import typing as t

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ansible_collections.iis.ccs.plugins.plugin_utils._verify.handshake import Served, Target, classify
from ansible_collections.iis.ccs.plugins.plugin_utils._verify.judge import Expectation, Policy, chain_report, judge

NOW = datetime.datetime.now(datetime.timezone.utc)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def served(corpus: t.Any, leaf: str, *, sni: str = "www.example.test", with_intermediate: bool = True) -> Served:
    chain = [corpus.certificate(leaf)] + ([x509.load_pem_x509_certificate(corpus.read("intermediate.crt"))] if with_intermediate else [])
    return Served(Target(sni, sni, "127.0.0.1", 443), tuple(der(c) for c in chain), "TLSv1.3")


def policy(corpus: t.Any, days: int = 30) -> Policy:
    return Policy((x509.load_pem_x509_certificate(corpus.read("root.crt")),), NOW, days)


def sha256(corpus: t.Any, leaf: str) -> str:
    return corpus.certificate(leaf).fingerprint(hashes.SHA256()).hex().upper()


def test_the_right_certificate_is_ok_with_every_fact(cert_corpus: t.Any) -> None:
    result = judge(served(cert_corpus, "leaf-rsa"), Expectation(sha256(cert_corpus, "leaf-rsa"), "store"), policy(cert_corpus))
    assert result["verdict"] == "ok" and result["ok"] is True
    assert result["matches_store"] is True and result["covers_name"] is True
    assert result["chain_complete"] and result["chain_trusted"] and result["missing_intermediates"] == []
    assert result["thumbprint"] == cert_corpus.thumbprint("leaf-rsa").upper()
    assert 360 <= result["days_left"] <= 365


def test_a_sha1_thumbprint_is_accepted_as_expectation(cert_corpus: t.Any) -> None:
    expectation = Expectation(cert_corpus.thumbprint("leaf-rsa").lower(), "expected")
    assert judge(served(cert_corpus, "leaf-rsa"), expectation, policy(cert_corpus))["matches_store"] is True


@pytest.mark.parametrize(
    ("leaf", "expected_leaf", "sni", "with_intermediate", "verdict"),
    [
        ("leaf-ec", "leaf-rsa", "www.example.test", True, "wrong_certificate"),
        # Wrong certificate outranks everything else the served one has wrong.
        ("expired", "leaf-rsa", "other.test", False, "wrong_certificate"),
        ("expired", None, "other.test", False, "expired"),
        ("leaf-rsa", None, "other.test", False, "name_mismatch"),
        ("leaf-rsa", None, "www.example.test", False, "incomplete_chain"),
        ("self-signed", None, "self.example.test", False, "untrusted"),
        ("expiring-soon", None, "www.example.test", True, "expiring"),
        ("wildcard", None, "ccs-verify.example.test", True, "ok"),
        ("idn", None, "xn--bcher-kva.example", True, "ok"),
    ],
)
def test_verdicts_in_order(cert_corpus: t.Any, leaf: str, expected_leaf: str | None, sni: str, with_intermediate: bool, verdict: str) -> None:
    expectation = Expectation(sha256(cert_corpus, expected_leaf), "store") if expected_leaf else Expectation()
    result = judge(served(cert_corpus, leaf, sni=sni, with_intermediate=with_intermediate), expectation, policy(cert_corpus))
    assert result["verdict"] == verdict, result
    assert bool(result["hint"]) == (verdict != "ok")


def test_a_missing_intermediate_is_named(cert_corpus: t.Any) -> None:
    leaf = cert_corpus.certificate("leaf-rsa")
    report = chain_report([leaf], policy(cert_corpus).anchors)
    assert report == {"complete": False, "trusted": False, "missing": [leaf.issuer.rfc4514_string()], "anchor": ""}


def test_an_intermediate_given_as_anchor_is_enough(cert_corpus: t.Any) -> None:
    intermediate = x509.load_pem_x509_certificate(cert_corpus.read("intermediate.crt"))
    assert chain_report([cert_corpus.certificate("leaf-rsa")], [intermediate])["trusted"] is True


def test_no_certificate_served_keeps_the_connection_verdict() -> None:
    result = judge(Served(Target("a.test", "a.test", "10.0.0.1", 443), error="timeout", detail="no answer"), Expectation(), Policy((), NOW, 30))
    assert result["verdict"] == "timeout" and result["ok"] is False and "thumbprint" not in result


@pytest.mark.parametrize(
    ("error", "in_handshake", "verdict"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), False, "connection_refused"),
        (TimeoutError("timed out"), True, "timeout"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), False, "reset"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), True, "handshake_failure"),
        (ssl.SSLEOFError(8, "EOF"), True, "handshake_failure"),
        (ssl.SSLError(1, "alert"), True, "handshake_failure"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), False, "unreachable"),
    ],
)
def test_socket_errors_become_verdicts(error: BaseException, in_handshake: bool, verdict: str) -> None:
    assert classify(error, in_handshake=in_handshake)[0] == verdict
