"""The TLS lab's endpoints on the wire (iis_lab.tls_lab.TlsLab): what a client receives, many clients at once,
and a clean stop. The certificate-selection rules themselves are in test_tls_lab_rules.py."""

from __future__ import annotations

import concurrent.futures
import socket
import ssl
import sys
import typing as t
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from iis_lab import tls_lab  # noqa: E402
import test_tls_lab_rules  # noqa: E402
from test_tls_lab_rules import self_signed_pfx, web_node  # noqa: E402

# The rules tests' autouse fixture (a lab state folder per test), bound here so pytest applies it to these tests too.
lab_dir = test_tls_lab_rules.lab_dir

ADDRESS = "127.0.77.1"


@pytest.fixture
def served() -> t.Iterator[tls_lab.TlsLab]:
    """web01 with one SNI certificate-hash binding (www.example.test) and nothing else on port 443."""
    thumbprint = tls_lab.install_machine_certificate("web01", self_signed_pfx("www.example.test"), None)
    web_node([{"protocol": "https", "binding_information": "*:443:www.example.test", "ssl_flags": 1, "certificate_hash": thumbprint}])
    lab = tls_lab.TlsLab({"web01": {"address": ADDRESS}}, ports=[443], mapped={443: 0}).start()
    try:
        yield lab
    finally:
        lab.stop()


def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def served_subject(port: int, sni: str) -> str:
    with socket.create_connection((ADDRESS, port), timeout=10) as raw, client_context().wrap_socket(raw, server_hostname=sni) as tls:
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def test_the_bound_name_gets_its_certificate_and_an_unbound_name_a_reset_without_an_alert(served: tls_lab.TlsLab) -> None:
    port = served.port_map[443]
    assert served_subject(port, "www.example.test") == "CN=www.example.test"
    # The ClientHello for a name nothing serves: HTTP.sys answers with a TCP reset, not a TLS alert.
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    hello = client_context().wrap_bio(incoming, outgoing, server_hostname="other.example.test")
    with pytest.raises(ssl.SSLWantReadError):
        hello.do_handshake()
    with socket.create_connection((ADDRESS, port), timeout=10) as raw:
        raw.sendall(outgoing.read())
        with pytest.raises(ConnectionResetError):
            assert raw.recv(4096) == b"", "the server sent something (an alert?) before dropping the connection"


def test_many_clients_at_once_are_all_served_and_stop_frees_the_port(served: tls_lab.TlsLab) -> None:
    port = served.port_map[443]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 * tls_lab.TlsLab.WORKERS) as pool:
        subjects = list(pool.map(lambda _n: served_subject(port, "www.example.test"), range(4 * tls_lab.TlsLab.WORKERS)))
    assert subjects == ["CN=www.example.test"] * (4 * tls_lab.TlsLab.WORKERS)
    threads = list(served._threads)
    assert len(threads) == 1 + tls_lab.TlsLab.WORKERS and all(thread.is_alive() for thread in threads)
    served.stop()
    assert not any(thread.is_alive() for thread in threads)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ADDRESS, port), timeout=10).close()
