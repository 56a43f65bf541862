"""A throw-away ACME CA on 127.0.0.1 for the renewal tests: Let's Encrypt's pebble (Debian package).

Pebble really validates HTTP-01 and DNS-01 challenges. pebble-challtestsrv is its DNS: every name
resolves to 127.0.0.1, so an HTTP-01 validation of ``www.contoso.test`` reaches the challenge web
server the test runs on loopback (``http_port``), and DNS-01 TXT records are set through
challtestsrv's management API. Pebble's own TLS key and certificate are made here with the openssl
CLI; its issuing root changes on every start and is fetched from the management interface.
Nothing is trusted system-wide: the test passes ``tls_ca_file`` to its runs (SSL_CERT_FILE).

Both servers run in their own session (``setsid``) and are stopped by their own pid, as smbd is
in tests/smb/_samba.py. Ports are free ports picked at start.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import typing as t
import urllib.request
from pathlib import Path

from _apt import AptInstallFailed, apt_install  # tests/_apt.py


class PebbleUnavailable(RuntimeError):
    """pebble is not installed and cannot be installed here."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_pebble() -> None:
    """Install Debian's pebble when it is missing (root only), as the Samba tests install samba."""
    try:
        found = apt_install("pebble", _find_pebble, recommends=True)
    except AptInstallFailed as exc:
        raise PebbleUnavailable(f"apt-get install pebble failed: {exc}") from None
    if found is None:
        raise PebbleUnavailable("pebble is not installed (Debian/Ubuntu: apt-get install pebble)")


def _find_pebble() -> str | None:
    return shutil.which("pebble") if shutil.which("pebble-challtestsrv") else None


class _ChallengeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves /.well-known/acme-challenge/<token> from the web root, as an IIS node serving a shared folder."""

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 - the base class's name
        del format, args


@dataclasses.dataclass
class Pebble:
    root: Path
    port: int = 0
    management_port: int = 0
    http_port: int = 0
    dns_port: int = 0
    challtestsrv_port: int = 0
    _processes: dict[str, subprocess.Popen[bytes]] = dataclasses.field(default_factory=dict)
    _web: http.server.ThreadingHTTPServer | None = None

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def tls_ca_file(self) -> Path:
        """Pebble's own TLS certificate (self-signed): what a client must trust to talk ACME to it."""
        return self.root / "pebble-tls.pem"

    @property
    def webroot(self) -> Path:
        """The folder the challenge web server serves at / (the farm's shared challenge folder)."""
        return self.root / "webroot"

    def start(self) -> Pebble:
        ensure_pebble()
        self.root = self.root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.webroot / ".well-known" / "acme-challenge").mkdir(parents=True, exist_ok=True)
        for name in ("port", "management_port", "dns_port", "challtestsrv_port"):
            if not getattr(self, name):
                setattr(self, name, free_port())
        self._start_web()
        self._make_tls_key()
        self._start_challtestsrv()
        self._start_pebble()
        return self

    def _make_tls_key(self) -> None:
        if self.tls_ca_file.exists():
            return
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=pebble test listener",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(self.root / "pebble-tls.key"), "-out", str(self.tls_ca_file)],
            check=True, capture_output=True,
        )

    def _start_web(self) -> None:
        handler = _make_handler(self.webroot)
        self._web = http.server.ThreadingHTTPServer(("127.0.0.1", self.http_port), handler)
        self.http_port = int(self._web.server_address[1])
        threading.Thread(target=self._web.serve_forever, name="acme-challenge-web", daemon=True).start()

    def _start_challtestsrv(self) -> None:
        args = ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", f"127.0.0.1:{self.dns_port}",
                "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{self.challtestsrv_port}"]
        self._spawn("challtestsrv", args, {})
        self._wait_listening(self.challtestsrv_port, "challtestsrv")

    def _start_pebble(self) -> None:
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.tls_ca_file),
            "privateKey": str(self.root / "pebble-tls.key"),
            "httpPort": self.http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}
        config_path = self.root / "pebble-config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        # No random validation delays; no deliberately rejected nonces (tests must not be flaky).
        env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        self._spawn("pebble", ["pebble", "-config", str(config_path), "-dnsserver", f"127.0.0.1:{self.dns_port}"], env)
        self._wait_listening(self.port, "pebble")

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it open
        self._processes[name] = subprocess.Popen(["setsid", *args], stdout=log, stderr=subprocess.STDOUT,
                                                 env={**os.environ, **env}, cwd=str(self.root))

    def _wait_listening(self, port: int, name: str) -> None:
        deadline = time.monotonic() + 20
        process = self._processes[name]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early: {(self.root / f'{name}.log').read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{name} did not listen on port {port} within 20 s")

    def _management(self, path: str) -> bytes:
        context = ssl.create_default_context(cafile=str(self.tls_ca_file))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
        with opener.open(f"https://127.0.0.1:{self.management_port}{path}", timeout=10) as response:
            return t.cast(bytes, response.read())

    def issuing_root_pem(self) -> bytes:
        """The root that signs this run's certificates (new on every pebble start)."""
        return self._management("/roots/0")

    def set_txt(self, name: str, value: str) -> None:
        """A DNS-01 TXT record, as a DNS provider's API would publish it."""
        body = json.dumps({"host": name, "value": value}).encode()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(urllib.request.Request(f"http://127.0.0.1:{self.challtestsrv_port}/set-txt", data=body), timeout=10).close()

    @property
    def running(self) -> bool:
        process = self._processes.get("pebble")
        return process is not None and process.poll() is None

    def stop_pebble(self) -> None:
        """Stop only the ACME server (the 'CA is down' scenario); start_pebble() brings it back."""
        self._stop("pebble")

    def start_again(self) -> None:
        """Start the ACME server again after stop_pebble() (same ports; a new issuing root)."""
        if not self.running:
            self._start_pebble()

    def stop(self) -> None:
        for name in list(self._processes):
            self._stop(name)
        if self._web is not None:
            self._web.shutdown()
            self._web.server_close()
            self._web = None

    def _stop(self, name: str) -> None:
        process = self._processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _make_handler(webroot: Path) -> type[_ChallengeHandler]:
    class Handler(_ChallengeHandler):
        def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
            super().__init__(*args, directory=str(webroot), **kwargs)

    return Handler
