"""Emulation of verify_tls.ps1: the node's own TLS handshakes, against the lab's real TLS endpoints.

The node connects to its own lab address (127.0.0.1 and the binding's address stand for it) on the
port the TLS lab serves the binding's port on, sends the name as SNI and reports what it got, as
SslStream.AuthenticateAsClient does. The chain is what the server sent: the lab nodes have no chain
engine of their own to complete it, which real Windows may do from its intermediate store.
"""

from __future__ import annotations

import base64
import socket
import ssl
import typing as t

from .. import tls_lab
from . import OpContext, operation

# SslStream.SslProtocol names (System.Security.Authentication.SslProtocols) for Python's version strings.
_PROTOCOL_NAMES = {"TLSv1": "Tls", "TLSv1.1": "Tls11", "TLSv1.2": "Tls12", "TLSv1.3": "Tls13"}


def _address(ctx: OpContext, address: str) -> str:
    own = str(((tls_lab.read_endpoints() or {}).get("hosts") or {}).get(ctx.host) or "")
    return own if address in ("127.0.0.1", "localhost", "::1", "") else address


def _handshake(address: str, port: int | None, sni: str, timeout: float) -> dict[str, t.Any]:
    if port is None:
        return {"error": "connection_refused", "detail": "No connection could be made because the target machine actively refused it"}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    phase = "connect"
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw:
            phase = "handshake"
            with context.wrap_socket(raw, server_hostname=sni) as sock:
                chain = sock._sslobj.get_unverified_chain()  # type: ignore[attr-defined]
                ders = [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
                return {"chain": [base64.b64encode(d).decode("ascii") for d in ders], "tls_version": _PROTOCOL_NAMES.get(sock.version() or "", "")}
    except ConnectionRefusedError:
        return {"error": "connection_refused", "detail": "No connection could be made because the target machine actively refused it"}
    except TimeoutError:
        return {"error": "timeout", "detail": "A connection attempt failed because the connected party did not properly respond"}
    except OSError as exc:
        if phase == "handshake":
            return {"error": "handshake_failure", "detail": "Authentication failed because the remote party has closed the transport stream."}
        return {"error": "unreachable", "detail": exc.strerror or type(exc).__name__}


@operation("verify_tls")
def verify_tls(ctx: OpContext) -> dict[str, t.Any]:
    timeout = max(int(ctx.params.get("timeout_ms") or 10000), 1) / 1000
    results = []
    for target in ctx.params.get("targets") or []:
        sni, port = str(target["sni"]), int(target["port"])
        entry: dict[str, t.Any] = {"sni": sni, "address": str(target["address"]), "port": port, "chain": [], "tls_version": "", "error": "", "detail": ""}
        entry.update(_handshake(_address(ctx, entry["address"]), tls_lab.lab_port(port), sni, timeout))
        ctx.log("tls_handshake", sni=sni, port=port, error=entry["error"])
        results.append(entry)
    return {"results": results}
