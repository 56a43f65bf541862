"""HTTP(S) listeners of the lab's WinRM endpoints: authentication, message encryption, traffic log.

Modelled on a WinRM service with its defaults (AllowUnencrypted=false, Basic only over
HTTPS, Negotiate everywhere):

- HTTP listener: NTLM (offered as Negotiate) and [MS-WSMV] 2.2.9.1.1 message encryption,
  required for every SOAP message; Basic is refused, as credentials would travel in clear.
- HTTPS listener: Basic or NTLM, no message encryption (TLS protects the channel).

NTLM authenticates the TCP connection (three legs on one keep-alive connection), and the
sealing keys belong to that connection, like HTTP.sys does it. Wrong credentials get the 401
Windows sends. Every HTTP exchange is appended to a JSON-lines traffic log with its bytes
on the wire (for a command's last stdin Send also its operation, chunks, bytes and SHA-256; for
a Receive the output bytes it carried),
so round trips and bytes can be counted over real HTTP.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import socket
import ssl
import struct
import threading
import traceback
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import spnego

from .wsman import Reply, WinRS, WsmanFault, fault_envelope

_BOUNDARY = b"--Encrypted Boundary"
_ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
_SIGNATURE_LENGTH = 16


class Authority(t.Protocol):
    """Who may log on to a lab host over WinRM."""

    def basic_logon(self, host: str, user: str, password: str) -> str | None:
        """The account name when these credentials are valid for a WinRM user of host."""
        raise NotImplementedError

    def may_use_winrm(self, host: str, principal: str) -> bool:
        raise NotImplementedError

    def refresh_ntlm_credentials(self) -> None:
        """Rewrite the NTLM_USER_FILE pyspnego's acceptor reads, from the current lab definition."""
        raise NotImplementedError


class TrafficLog:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def write(self, record: dict[str, t.Any]) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock, open(self._path, "a", encoding="utf-8") as handle:
            handle.write(line)


class Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], host: str, winrs: WinRS, authority: Authority, traffic: TrafficLog,
                 tls: ssl.SSLContext | None, channel_binding: bytes | None = None) -> None:
        self.lab_host = host
        # HTTPS: NTLM must carry this binding (CbtHardeningLevel, as if Strict), proving it was not relayed.
        self.channel_bindings = spnego.channel_bindings.GssChannelBindings(application_data=channel_binding) if channel_binding else None
        self.winrs = winrs
        self.authority = authority
        self.traffic = traffic
        self.tls = tls
        self.scheme = "https" if tls else "http"
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, t.Any]:
        sock, address = super().get_request()
        if self.tls is not None:
            # The handshake happens in the connection's own thread (_Handler.setup), not here.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address


class _CountingReader:
    def __init__(self, raw: t.Any) -> None:
        self._raw = raw
        self.count = 0

    def readline(self, limit: int = -1) -> bytes:
        data = t.cast(bytes, self._raw.readline(limit))
        self.count += len(data)
        return data

    def read(self, size: int = -1) -> bytes:
        data = t.cast(bytes, self._raw.read(size))
        self.count += len(data)
        return data

    def close(self) -> None:
        self._raw.close()


class _CountingWriter:
    def __init__(self, raw: t.Any) -> None:
        self._raw = raw
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return t.cast(int, self._raw.write(data))

    def flush(self) -> None:
        try:
            self._raw.flush()
        except OSError:
            pass  # the connection was dropped on purpose (fault injection) or by the client

    @property
    def closed(self) -> bool:
        return bool(getattr(self._raw, "closed", False))

    def close(self) -> None:
        self._raw.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: Listener

    def setup(self) -> None:
        # Headers and body leave in two writes: without TCP_NODELAY, Nagle holds the body back until the
        # client's delayed ACK (~40 ms) on every exchange.
        # IIS_LAB_TCP_NODELAY=0 leaves Nagle on: only tools/benchmark_exchanges.py sets it, as the comparison.
        if os.environ.get("IIS_LAB_TCP_NODELAY", "1") != "0":
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(30)
            self.request.do_handshake()
        super().setup()
        self.rfile = _CountingReader(self.rfile)  # type: ignore[assignment]
        self.wfile = _CountingWriter(self.wfile)  # type: ignore[assignment]
        # Per TCP connection, as HTTP.sys keeps it: the NTLM exchange in progress or done.
        self._ntlm: t.Any = None
        self._user: str | None = None

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 - the base class's name
        return  # the traffic log records every exchange; keep stderr for real problems

    def handle_one_request(self) -> None:
        # Counted from the request line on, so the bytes include every header on the wire.
        self._counts_at_start = (t.cast(_CountingReader, self.rfile).count, t.cast(_CountingWriter, self.wfile).count)
        super().handle_one_request()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._record: dict[str, t.Any] | None = {"host": self.server.lab_host, "scheme": self.server.scheme}
        try:
            self._serve(body, self._record)
        except Exception:
            # A lab bug: answer 500 (and log it) rather than dropping the connection, which would
            # look like the network fault the lab injects on purpose.
            if self._record is not None:
                self._record["action"] = "internal-error"
            traceback.print_exc()
            self._respond(500, b"")
        finally:
            self._log_exchange(0)

    def _log_exchange(self, unsent_bytes: int) -> None:
        """Append this exchange to the traffic log once (unsent_bytes: response body still to be written)."""
        if self._record is None:
            return
        start_in, start_out = self._counts_at_start
        self._record.update(request_bytes=t.cast(_CountingReader, self.rfile).count - start_in,
                            response_bytes=t.cast(_CountingWriter, self.wfile).count - start_out + unsent_bytes)
        self.server.traffic.write(self._record)
        self._record = None

    # -- authentication --------------------------------------------------------
    def _serve(self, body: bytes, record: dict[str, t.Any]) -> None:
        if self.path.rstrip("/").lower() != "/wsman":
            record["action"] = "not-found"
            self._respond(404, b"")
            return
        authorization = self.headers.get("Authorization", "")
        scheme, _sep, token = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            if not self._basic(token.strip()):
                record["action"] = "auth-rejected"
                self._challenge()
                return
        elif scheme in ("negotiate", "ntlm"):
            if not self._ntlm_step(token.strip(), record):
                return
        elif self._user is None:
            record["action"] = "auth-challenge"
            self._challenge()
            return
        record["user"] = self._user
        self._soap(body, record)

    def _basic(self, token: str) -> bool:
        if self.server.tls is None:
            return False  # AllowUnencrypted=false: no clear-text passwords on the HTTP listener
        try:
            user, _sep, password = base64.b64decode(token).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        account = self.server.authority.basic_logon(self.server.lab_host, user, password)
        self._user = account
        return account is not None

    def _ntlm_step(self, token: str, record: dict[str, t.Any]) -> bool:
        """One leg of NTLM; True once the connection is authenticated and the request may be served."""
        try:
            data = base64.b64decode(token)
            if self._ntlm is None or self._user is not None:
                self.server.authority.refresh_ntlm_credentials()
                self._ntlm, self._user = spnego.server(protocol="ntlm", channel_bindings=self.server.channel_bindings), None
            answer = self._ntlm.step(data)
        except (spnego.exceptions.SpnegoError, binascii.Error, ValueError):
            self._ntlm = None
            record["action"] = "auth-rejected"
            self._challenge()
            return False
        if not self._ntlm.complete:
            record["action"] = "auth-negotiate"
            self._respond(401, b"", {"WWW-Authenticate": "Negotiate " + base64.b64encode(answer or b"").decode("ascii")})
            return False
        principal = str(self._ntlm.client_principal or "")
        if not self.server.authority.may_use_winrm(self.server.lab_host, principal):
            self._ntlm = None
            record["action"] = "auth-rejected"
            self._challenge()
            return False
        self._user = principal
        return True

    def _challenge(self) -> None:
        offers = [("WWW-Authenticate", "Negotiate")]
        if self.server.tls is not None:
            offers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._respond(401, b"", offers)

    # -- SOAP ------------------------------------------------------------------
    def _soap(self, body: bytes, record: dict[str, t.Any]) -> None:
        if not body:
            # pywinrm's first, empty message only completes authentication.
            record["action"] = "auth-complete"
            self._respond(200, b"")
            return
        content_type = self.headers.get("Content-Type", "")
        encrypted = "multipart/encrypted" in content_type and _ENCRYPTED_PROTOCOL in content_type
        if encrypted:
            try:
                body = self._unseal(body)
            except (ValueError, spnego.exceptions.SpnegoError, struct.error):
                # Sealed for another connection's keys (pywinrm re-sending after a reconnect).
                record["action"] = "undecryptable"
                self._respond(400, b"")
                return
        elif self.server.tls is None:
            record["action"] = "unencrypted-refused"
            self._respond(400, b"")
            return
        try:
            reply: Reply | None = self.server.winrs.handle(body, t.cast(str, self._user))
            status, answer = 200, t.cast(Reply, reply).xml
        except WsmanFault as fault:
            reply, status = None, 500
            answer = fault_envelope(fault, _message_id(body), self.server.lab_host.upper())
            record.update(fault=fault.code)
        if reply is not None:
            record.update(action=reply.action, shell_id=reply.shell_id, command_id=reply.command_id)
            if reply.action == "receive":
                record["output_bytes"] = reply.output_bytes
            if reply.stdin_sha256:
                record.update(stdin_chunks=reply.stdin_chunks, stdin_bytes=reply.stdin_bytes, stdin_sha256=reply.stdin_sha256,
                              operation=reply.operation, sends_script=reply.sends_script)
            if reply.drop_connection:
                record["action"] = "dropped"
                self._drop()
                return
        else:
            record.setdefault("action", "fault")
        if encrypted:
            self._respond(status, self._seal(answer), {
                "Content-Type": f'multipart/encrypted;protocol="{_ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'})
        else:
            self._respond(status, answer, {"Content-Type": "application/soap+xml;charset=UTF-8"})

    def _unseal(self, body: bytes) -> bytes:
        if self._ntlm is None or not self._ntlm.complete:
            raise ValueError("no NTLM security context on this connection")
        parts = [p for p in body.split(_BOUNDARY + b"\r\n") if p]
        if len(parts) != 2:
            raise ValueError("not one encrypted part")
        length = int(parts[0].split(b"Length=")[1].strip())
        payload = parts[1].removesuffix(_BOUNDARY + b"--\r\n").replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        signature_length = struct.unpack("<i", payload[:4])[0]
        message = self._ntlm.unwrap(payload[4:4 + signature_length] + payload[4 + signature_length:]).data
        if len(message) != length:
            raise ValueError("decrypted length differs from the declared one")
        return t.cast(bytes, message)

    def _seal(self, message: bytes) -> bytes:
        wrapped = self._ntlm.wrap(message, encrypt=True).data
        signature, sealed = wrapped[:_SIGNATURE_LENGTH], wrapped[_SIGNATURE_LENGTH:]
        return (
            _BOUNDARY + b"\r\n"
            + f"\tContent-Type: {_ENCRYPTED_PROTOCOL}\r\n".encode()
            + f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(message)}\r\n".encode()
            + _BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<i", len(signature)) + signature + sealed
            + _BOUNDARY + b"--\r\n"
        )

    # -- responses ---------------------------------------------------------------
    def _respond(self, status: int, body: bytes, headers: t.Mapping[str, str] | t.Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in (headers.items() if isinstance(headers, t.Mapping) else headers):
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # Logged before the body goes out: once a client has its answer, the log already shows the exchange.
        self._log_exchange(len(body))
        self.wfile.write(body)
        self.wfile.flush()

    def _drop(self) -> None:
        # An abrupt close (RST), as when the network or the WinRM service goes away mid-command.
        self.close_connection = True
        try:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.request.close()
        except OSError:
            pass


def _message_id(body: bytes) -> str:
    start = body.find(b"MessageID>")
    end = body.find(b"<", start + 10)
    return body[start + 10:end].decode("ascii", errors="replace") if start != -1 and end != -1 else ""


_USER_FILE_LOCK = threading.Lock()


def ntlm_user_file(path: Path, accounts: t.Mapping[str, str]) -> None:
    """Write the NTLM_USER_FILE (DOMAIN:USER:PASSWORD lines) pyspnego's acceptor validates against."""
    with _USER_FILE_LOCK:
        _write_user_file(path, accounts)


def _write_user_file(path: Path, accounts: t.Mapping[str, str]) -> None:
    lines = []
    for account, password in sorted(accounts.items()):
        domain, _sep, user = account.rpartition("\\")
        if ":" not in account and ":" not in password:
            lines.append(f"{domain}:{user}:{password}")
    temp = path.with_suffix(".tmp")
    temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    os.environ["NTLM_USER_FILE"] = str(path)
