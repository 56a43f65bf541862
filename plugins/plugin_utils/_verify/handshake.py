# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One TLS handshake with SNI from the controller, and many at once with a bound.

Nothing here trusts or judges what is served: the handshake accepts any certificate
(verification is off on purpose) so that a wrong, expired or untrusted certificate can be
reported rather than refused; judge.py decides what it means.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import errno
import socket
import ssl
import typing as t

# Errors a client sees at the TCP or TLS level, as the verdicts that name them.
CONNECTION_REFUSED = "connection_refused"
HANDSHAKE_FAILURE = "handshake_failure"
RESET = "reset"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"


@dataclasses.dataclass(frozen=True)
class Target:
    """Where to connect and which name to send as SNI (A-label form)."""

    name: str
    sni: str
    address: str
    port: int


@dataclasses.dataclass(frozen=True)
class Served:
    """What the server sent: its certificates (DER, leaf first) and the TLS version; or why there was none."""

    target: Target
    chain: tuple[bytes, ...] = ()
    tls_version: str = ""
    error: str = ""  # one of the verdict constants above, "" on success
    detail: str = ""


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Deliberately unverified: the point is to see and report whatever the node serves.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def served_chain(sock: ssl.SSLSocket) -> tuple[bytes, ...]:
    """The certificates the peer sent, leaf first (public since Python 3.13, private before)."""
    getter = getattr(sock, "get_unverified_chain", None) or getattr(getattr(sock, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        leaf = sock.getpeercert(binary_form=True)
        return (leaf,) if leaf else ()
    return tuple(item if isinstance(item, bytes) else item.public_bytes(ssl._ssl.ENCODING_DER) for item in getter() or ())  # type: ignore[attr-defined]


def classify(exc: BaseException, *, in_handshake: bool) -> tuple[str, str]:
    """A socket or TLS error as (verdict, short detail). A server that drops the connection once the
    ClientHello is sent has no certificate for the name: HTTP.sys resets, other servers send an alert."""
    if isinstance(exc, ConnectionRefusedError):
        return CONNECTION_REFUSED, "connection refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TIMEOUT, "no answer within the timeout"
    dropped = isinstance(exc, (ConnectionResetError, ssl.SSLEOFError)) or (isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE))
    if dropped:
        if in_handshake:
            return HANDSHAKE_FAILURE, "the server dropped the connection during the TLS handshake (reset, no certificate sent)"
        return RESET, "the connection was reset"
    if isinstance(exc, ssl.SSLError):
        return HANDSHAKE_FAILURE, f"TLS alert or error: {str(getattr(exc, 'reason', None) or type(exc).__name__).lower()}"
    if isinstance(exc, OSError):
        return UNREACHABLE, exc.strerror or type(exc).__name__
    return UNREACHABLE, type(exc).__name__


def handshake(target: Target, timeout: float, context: ssl.SSLContext | None = None) -> Served:
    context = context or _client_context()
    try:
        raw = socket.create_connection((target.address, target.port), timeout=timeout)
    except (OSError, ValueError) as exc:
        verdict, detail = classify(exc, in_handshake=False)
        return Served(target, error=verdict, detail=detail)
    try:
        with context.wrap_socket(raw, server_hostname=target.sni) as sock:
            return Served(target, served_chain(sock), sock.version() or "")
    except (OSError, ValueError) as exc:
        verdict, detail = classify(exc, in_handshake=True)
        return Served(target, error=verdict, detail=detail)
    finally:
        raw.close()


def handshake_all(targets: t.Sequence[Target], *, concurrency: int, timeout: float) -> list[Served]:
    """Every target, at most concurrency at a time; results in the targets' order."""
    context = _client_context()
    if len(targets) <= 1 or concurrency <= 1:
        return [handshake(target, timeout, context) for target in targets]
    # Threads: the handshakes wait on the network and in OpenSSL, both outside the GIL.
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(concurrency, len(targets))) as pool:
        return list(pool.map(lambda target: handshake(target, timeout, context), targets))
