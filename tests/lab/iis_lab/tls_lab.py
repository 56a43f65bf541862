"""tests/lab/tls-lab: the emulated web nodes serve real TLS, choosing certificates as HTTP.sys does with CCS.

    tls-lab start [-i INVENTORY]   (re)start the TLS endpoints in the background (default: the hosts
                                   defined last in this state folder, else tests/lab/inventory.yml's)
    tls-lab stop                   stop them (only the process this state folder started)
    tls-lab status                 print the endpoints, exit 1 when not running

Tests usually run the server in their own process (``TlsLab(...).start()``); the command line runs
the same server in its own process (the benchmark does, so client and server have one GIL each).

Each node listens on its own loopback address (its ansible_host, or 127.0.10.N, as the WinRM
endpoints do) for every Windows port in ``IIS_LAB_TLS_PORTS`` (default 443). A Windows port is
served on itself when free on every address, else on one free port shared by all addresses
(``IIS_LAB_TLS_PORT_OFFSET=N`` serves port P on P+N instead); the mapping is written to
<state>/tls/endpoints.json, which ccs_verify's ``port_map`` and the lab's verify_tls take it from.

Certificate selection per handshake (docs/ccs-behaviour.md, "Selection"), from the node's state now:
1. an SNI certificate-hash binding for exactly the SNI name and port: the lab's certificate for that hash;
2. a CCS binding on the port covering the SNI name (``ccs=0.0.0.0:<port>`` in HTTP.sys): ``<sni>.pfx``,
   then ``_.<parent>.pfx`` for a wildcard binding, read from the provider's store location through the
   lab share model as the provider account, opened with the provider's private-key password, and cached
   (see ``CcsCache``);
3. otherwise a non-SNI certificate-hash binding (``*:<port>:`` or ``<ip>:<port>:``): that certificate,
   also when CCS could not load one: the silent wrong certificate;
4. otherwise the connection is reset during the handshake, as HTTP.sys does when it has no certificate.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import functools
import json
import os
import queue
import selectors
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from . import rules
from .errors import WindowsError_
from .inventory import assign_addresses, load, read_lab_hosts, write_lab_hosts
from .model import PROVIDER_KEY, registry_key
from .network import Network
from .state import DEFAULT_STATE_DIR, drive_root, machine_decrypt, state_dir

LAB_DIR = Path(__file__).resolve().parents[1]
_SERVE_MARKER = "iis_lab.tls_lab"
DEFAULT_WINDOWS_PORTS = (443,)
_DEFAULT_STATE_DIR = str(DEFAULT_STATE_DIR)
SNI, CCS = 1, 2

rules.register("ccs-file-exact-then-wildcard", "CCS looks for <sni>.pfx first, then _.<parent>.pfx for a wildcard binding",
               "docs/ccs-behaviour.md#selection")
rules.register("ccs-cache-polling", "A loaded CCS certificate is cached; a changed file is picked up only after the polling interval",
               "docs/ccs-behaviour.md#selection")
rules.register("ccs-fallback-ip-binding", "Without a CCS certificate, HTTP.sys falls back to a non-SNI IP:port binding, else the handshake fails",
               "docs/ccs-behaviour.md#selection")


def tls_dir() -> Path:
    return state_dir() / "tls"


# -- the lab clock: tests move it instead of sleeping ---------------------------------------
def clock_offset() -> float:
    # Read on every handshake that consults a cache: plain strings, no pathlib, keep it cheap.
    path = os.path.join(os.environ.get("IIS_LAB_STATE_DIR") or _DEFAULT_STATE_DIR, "tls", "clock.json")
    try:
        with open(path, encoding="utf-8") as handle:
            return float(json.load(handle)["offset"])
    except (OSError, ValueError, KeyError):
        return 0.0


def advance_clock(seconds: float) -> None:
    """Move the lab nodes' clock forward (certificate caches expire by it)."""
    path = tls_dir() / "clock.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps({"offset": clock_offset() + seconds}), encoding="utf-8")
    temp.replace(path)


def lab_now() -> float:
    return time.time() + clock_offset()


# -- the nodes' machine certificate stores (Cert:\LocalMachine\My) ----------------------------
def machine_store(host: str) -> Path:
    return drive_root(host, "cert") / "my"


def install_machine_certificate(host: str, pfx: bytes, password: str | None) -> str:
    """Import a PFX into a node's machine store; returns its SHA-1 thumbprint (what a binding's certificateHash holds)."""
    key, cert, extra = pkcs12.load_key_and_certificates(pfx, password.encode("utf-8") if password is not None else None)
    assert key is not None and cert is not None
    thumbprint = cert.fingerprint(_sha1()).hex().upper()
    path = machine_store(host) / f"{thumbprint}.pem"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_pem(key, cert, extra))
    return thumbprint


def _sha1() -> t.Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA1()  # noqa: S303 - Windows' certificate hash, an identifier


def _pem(key: t.Any, cert: x509.Certificate, chain: t.Sequence[x509.Certificate]) -> bytes:
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # What HTTP.sys sends: the leaf and the intermediates it has, never a self-signed root.
    sent = [c for c in chain if c.subject != c.issuer]
    return key_pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [cert, *sent])


# -- certificate contexts ----------------------------------------------------------------------
class ContextFactory:
    """One server SSLContext per distinct key + chain (files under <state>/tls/keys, owner-only)."""

    def __init__(self) -> None:
        self._contexts: dict[bytes, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context(self, pem: bytes) -> ssl.SSLContext:
        with self._lock:
            found = self._contexts.get(pem)
            if found is None:
                import hashlib

                path = tls_dir() / "keys" / f"{hashlib.sha256(pem).hexdigest()[:32]}.pem"
                path.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(pem)
                found = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                found.load_cert_chain(str(path))
                self._contexts[pem] = found
            return found


@dataclasses.dataclass
class CacheEntry:
    pem: bytes
    check_after: float  # lab clock seconds: the provider looks at the file again after this


class CcsCache:
    """The CCS provider's cache on one node: a loaded certificate is served until the polling interval
    passes; then the file is read again, and if the share cannot be reached the cached one stays."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], CacheEntry] = {}

    def get(self, host: str, file_name: str, load: t.Callable[[], bytes | None], polling_interval: int) -> bytes | None:
        key = (host, file_name.lower())
        if not rules.enforced("ccs-cache-polling"):
            self.entries.pop(key, None)  # switched off: every handshake reads the file again
        entry = self.entries.get(key)
        now = lab_now()
        if entry is not None and now < entry.check_after:
            return entry.pem
        try:
            pem = load()
        except ShareUnreachable:
            if entry is not None:
                entry.check_after = now + polling_interval
                return entry.pem
            return None
        if pem is None:
            self.entries.pop(key, None)
            return None
        self.entries[key] = CacheEntry(pem, now + polling_interval)
        return pem


class ShareUnreachable(Exception):
    """The store location could not be reached or logged on to."""


# -- reading a node's state ------------------------------------------------------------------------
class StateReader:
    """A node's state file, re-read only when it changed."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, dict[str, t.Any]]] = {}

    def read(self, host: str) -> dict[str, t.Any] | None:
        # As state.host_file(host), as a plain string: this runs on every handshake.
        path = os.path.join(os.environ.get("IIS_LAB_STATE_DIR") or _DEFAULT_STATE_DIR, f"{host.lower()}.json")
        try:
            mtime = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return None
        cached = self._cache.get(host)
        if cached is None or cached[0] != mtime:
            with open(path, encoding="utf-8") as handle:
                cached = (mtime, json.load(handle))
            self._cache[host] = cached
        return cached[1]


def https_bindings(state: t.Mapping[str, t.Any], port: int) -> list[tuple[str, str, int, str]]:
    """(ip, host, ssl_flags, certificate_hash) of every https binding on port."""
    found = []
    for site in state.get("sites") or []:
        for binding in site.get("bindings") or []:
            if str(binding.get("protocol")).lower() != "https":
                continue
            ip_port, _sep, host = str(binding["binding_information"]).rpartition(":")
            ip, _sep, binding_port = ip_port.rpartition(":")
            if binding_port == str(port):
                found.append((ip, host.lower(), int(binding.get("ssl_flags") or 0), str(binding.get("certificate_hash") or "").upper()))
    return found


def ccs_candidates(bindings: t.Sequence[tuple[str, str, int, str]], sni: str) -> list[str]:
    """The CCS file names tried for sni, in order: exact binding -> <sni>.pfx; wildcard binding -> <sni>.pfx, then _.<parent>.pfx."""
    return _candidates(ccs_host_names(bindings), sni)


def ccs_host_names(bindings: t.Sequence[tuple[str, str, int, str]]) -> frozenset[str]:
    """The host names (U-label form) of the CCS bindings."""
    return frozenset(_to_unicode(host) for _ip, host, flags, _hash in bindings if flags & CCS)


def _candidates(ccs_hosts: frozenset[str], sni: str) -> list[str]:
    unicode_name = _to_unicode(sni)
    parent = unicode_name.partition(".")[2]
    if unicode_name in ccs_hosts:
        return [f"{unicode_name}.pfx"]
    if parent and f"*.{parent}" in ccs_hosts:
        if not rules.enforced("ccs-file-exact-then-wildcard"):
            return [f"{unicode_name}.pfx"]  # switched off: no wildcard file
        return [f"{unicode_name}.pfx", f"_.{parent}.pfx"]
    return []


def _to_unicode(name: str) -> str:
    # HTTP.sys gets the SNI name in A-label form; CCS file names are in U-label form (win-acme #2434).
    labels = []
    for label in name.lower().split("."):
        try:
            labels.append(label.encode("ascii").decode("idna") if label.startswith("xn--") else label)
        except UnicodeError:
            labels.append(label)
    return ".".join(labels)


@dataclasses.dataclass(frozen=True)
class PortBindings:
    """What one node's state says about one port, worked out once per version of the state file."""

    sni_hashes: t.Mapping[str, str]  # SNI name -> certificate hash of the first SNI certificate-hash binding for it
    ccs_hosts: frozenset[str]
    ccs_listening: bool  # HTTP.sys has a ccs=<ip>:<port> entry
    fallback_hash: str  # the first non-SNI certificate-hash binding's hash, "" when none

    @classmethod
    def of(cls, state: t.Mapping[str, t.Any], port: int) -> PortBindings:
        bindings = https_bindings(state, port)
        sni_hashes: dict[str, str] = {}
        for _ip, name, flags, cert_hash in bindings:
            if flags & SNI and not flags & CCS and cert_hash:
                sni_hashes.setdefault(name, cert_hash)
        fallback = next((cert_hash for _ip, name, flags, cert_hash in bindings if not name and not flags & SNI and cert_hash), "")
        listening = any(key.rpartition(":")[2] == str(port) for key in state["httpsys"]["ccs"])
        return cls(sni_hashes, ccs_host_names(bindings), listening, fallback)


# -- the selection ---------------------------------------------------------------------------------
class Selector:
    """Decides, per handshake, which certificate a node serves (module docstring, steps 1 to 4).
    Safe to call from several threads: each CCS file's cache entry is read and loaded under its own lock."""

    def __init__(self, definitions: t.Mapping[str, t.Mapping[str, t.Any]]) -> None:
        self.definitions = definitions
        self.states = StateReader()
        self.cache: dict[str, CcsCache] = {}
        self.contexts = ContextFactory()
        self.decoded: dict[bytes, bytes | None] = {}
        self._plans: dict[tuple[str, int], tuple[t.Mapping[str, t.Any], PortBindings]] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    def choose(self, host: str, port: int, sni: str | None) -> ssl.SSLContext | None:
        pem = self._choose_pem(host, port, sni)
        return self.contexts.context(pem) if pem is not None else None

    def forget_cache(self) -> None:
        self.cache.clear()

    def _choose_pem(self, host: str, port: int, sni: str | None) -> bytes | None:
        state = self.states.read(host)
        if state is None:
            return None
        plan = self._plan(host, state, port)
        if sni:
            cert_hash = plan.sni_hashes.get(sni.lower())
            if cert_hash:
                return self._machine_pem(host, cert_hash)
            if plan.ccs_listening:
                for file_name in _candidates(plan.ccs_hosts, sni):
                    pem = self._ccs_pem(host, state, file_name)
                    if pem is not None:
                        return pem
        if sni and not rules.enforced("ccs-fallback-ip-binding"):
            return None  # switched off: an SNI client that found no SNI or CCS certificate gets none
        return self._machine_pem(host, plan.fallback_hash) if plan.fallback_hash else None

    def _plan(self, host: str, state: t.Mapping[str, t.Any], port: int) -> PortBindings:
        # StateReader hands out the same mapping until the file changes: the plan is keyed on that object.
        cached = self._plans.get((host, port))
        if cached is None or cached[0] is not state:
            cached = (state, PortBindings.of(state, port))
            self._plans[(host, port)] = cached
        return cached[1]

    @staticmethod
    def _machine_pem(host: str, cert_hash: str) -> bytes | None:
        path = machine_store(host) / f"{cert_hash.upper()}.pem"
        return path.read_bytes() if path.is_file() else None

    def _ccs_pem(self, host: str, state: t.Mapping[str, t.Any], file_name: str) -> bytes | None:
        provider = registry_key(state, PROVIDER_KEY) or {}
        if int(provider.get("Enabled") or 0) != 1:
            return None
        polling = int(provider.get("PollingInterval") or 300)
        cache = self.cache.setdefault(host, CcsCache())
        key = (host, file_name.lower())
        lock = self._locks.get(key) or self._locks.setdefault(key, threading.Lock())
        with lock:
            return cache.get(host, file_name, lambda: self._load_ccs_file(host, state, provider, file_name), polling)

    def _load_ccs_file(self, host: str, state: t.Mapping[str, t.Any], provider: t.Mapping[str, t.Any], file_name: str) -> bytes | None:
        network = Network((self.definitions.get(host) or {}).get("network"))
        try:
            password = _decrypt(state, str(provider.get("Password") or "")) if provider.get("Password") else ""
            account = network.check_logon(host, state.get("local_accounts") or {}, str(provider.get("UserName") or ""), password)
            folder = network.resolve(host, str(provider.get("CertStoreLocation") or ""), account, "read")
        except WindowsError_ as exc:
            raise ShareUnreachable(exc.message) from None
        if not folder.is_dir():
            raise ShareUnreachable(str(folder))
        path = _child_ci(folder, file_name)
        if path is None:
            return None
        key_password = provider.get("PrivateKeyPassword")
        secret = _decrypt(state, str(key_password)).encode("utf-8") if key_password else None
        return self._decode(path.read_bytes(), secret)

    def _decode(self, data: bytes, secret: bytes | None) -> bytes | None:
        # Many names can share one certificate; the same bytes and password always decode the same way.
        import hashlib

        key = hashlib.sha256(data + b"\0" + (secret or b"")).digest()
        if key not in self.decoded:
            try:
                private_key, cert, extra = pkcs12.load_key_and_certificates(data, secret)
            except ValueError:
                # The provider's private-key password does not open this file: IIS logs it and serves nothing for the name.
                private_key = cert = None
                extra = []
            self.decoded[key] = _pem(private_key, cert, extra) if private_key is not None and cert is not None else None
        return self.decoded[key]


@functools.lru_cache(maxsize=1024)
def _decrypt_memo(machine_key: str, ciphertext: str) -> str:
    return machine_decrypt({"machine_key": machine_key}, ciphertext)


def _decrypt(state: t.Mapping[str, t.Any], ciphertext: str) -> str:
    # The same machine key and ciphertext always give the same secret: every file a node loads
    # reuses the provider's two decrypted secrets (a changed registry value is a new ciphertext).
    return _decrypt_memo(str(state["machine_key"]), ciphertext)


def _child_ci(folder: Path, name: str) -> Path | None:
    exact = folder / name
    if "/" not in name and "\0" not in name and exact.is_file():
        return exact  # the usual case, without listing a store of thousands of files
    lowered = name.lower()
    for entry in folder.iterdir():
        if entry.name.lower() == lowered and entry.is_file():
            return entry
    return None


# -- the listeners ---------------------------------------------------------------------------------
def windows_ports() -> tuple[int, ...]:
    text = os.environ.get("IIS_LAB_TLS_PORTS", "")
    return tuple(int(p) for p in text.split(",") if p.strip()) or DEFAULT_WINDOWS_PORTS


def _bindable(addresses: t.Iterable[str], port: int) -> bool:
    probes = []
    try:
        for address in addresses:
            sock = socket.socket()
            probes.append(sock)
            sock.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        for sock in probes:
            sock.close()


HANDSHAKE_TIMEOUT = 10
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class TlsLab:
    """The TLS endpoints of every web node of a lab: one thread accepts on every listener and a pool of
    worker threads does the handshakes (OpenSSL leaves the GIL during the cryptography, so they use every core)."""

    WORKERS = 32

    def __init__(self, definitions: t.Mapping[str, t.Mapping[str, t.Any]] | None = None, *, ports: t.Sequence[int] | None = None,
                 mapped: t.Mapping[int, int] | None = None) -> None:
        self.definitions = dict(definitions or read_lab_hosts())
        self.addresses = assign_addresses(self.definitions)
        self.windows_ports = tuple(ports or windows_ports())
        self.requested_map = dict(mapped or {})
        self.port_map: dict[int, int] = {}
        self.selector = Selector(self.definitions)
        self._listeners: list[tuple[socket.socket, ssl.SSLContext]] = []
        self._work: queue.SimpleQueue[tuple[socket.socket, ssl.SSLContext] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._wake: tuple[socket.socket, socket.socket] | None = None

    # Which lab port serves a Windows port: itself if free everywhere, else one free port for all addresses.
    def _lab_port(self, windows_port: int) -> int:
        if windows_port in self.requested_map:
            return self.requested_map[windows_port]
        offset = os.environ.get("IIS_LAB_TLS_PORT_OFFSET")
        if offset:
            return windows_port + int(offset)
        return windows_port if _bindable(self.addresses.values(), windows_port) else 0

    def _context_for(self, host: str, windows_port: int) -> ssl.SSLContext:
        """The context of one node's port: its SNI callback picks the certificate, or has the connection reset as HTTP.sys does."""
        base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

        def on_sni(sslobj: t.Any, server_name: str | None, _context: ssl.SSLContext) -> int | None:
            chosen = self.selector.choose(host, windows_port, server_name)
            if chosen is None:
                # HTTP.sys finds no certificate: it drops the connection with a TCP reset, no TLS alert
                # (clients see ERR_CONNECTION_RESET); _serve sends nothing more and resets.
                sslobj.lab_reset = True
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
            sslobj.context = chosen
            return None

        base.sni_callback = on_sni
        return base

    def _open(self) -> None:
        for windows_port in self.windows_ports:
            port = self._lab_port(windows_port)
            for _attempt in range(50):
                opened: list[tuple[socket.socket, ssl.SSLContext]] = []
                try:
                    for host, address in self.addresses.items():
                        listener = socket.create_server((address, port or (_port_of(opened[0][0]) if opened else 0)), backlog=512)
                        opened.append((listener, self._context_for(host, windows_port)))
                    break
                except OSError as exc:
                    for listener, _context in opened:
                        listener.close()
                    if port or exc.errno != errno.EADDRINUSE:
                        raise
            else:
                raise OSError(errno.EADDRINUSE, "no port free on every lab address")
            self._listeners += opened
            self.port_map[windows_port] = _port_of(opened[0][0])

    def start(self) -> TlsLab:
        try:
            self._open()
        except BaseException:
            self._close_listeners()
            raise
        self._wake = socket.socketpair()
        self._threads = [threading.Thread(target=self._accept, name="tls-lab-accept", daemon=True)]
        self._threads += [threading.Thread(target=self._serve_queue, name=f"tls-lab-{n}", daemon=True) for n in range(self.WORKERS)]
        for thread in self._threads:
            thread.start()
        write_endpoints({"pid": os.getpid(), "hosts": dict(self.addresses), "ports": {str(k): v for k, v in self.port_map.items()}})
        return self

    def stop(self) -> None:
        if self._wake is not None:
            self._wake[1].send(b"x")
            self._threads[0].join(30)
            for _worker in self._threads[1:]:
                self._work.put(None)
            for thread in self._threads[1:]:
                thread.join(30)
            self._threads = []
            for end in self._wake:
                end.close()
            self._wake = None
        self._close_listeners()
        (tls_dir() / "endpoints.json").unlink(missing_ok=True)

    def forget_cache(self) -> None:
        """As an IIS reset would: every node's CCS cache is emptied."""
        self.selector.forget_cache()

    def _close_listeners(self) -> None:
        for listener, _context in self._listeners:
            listener.close()
        self._listeners = []

    def _accept(self) -> None:
        assert self._wake is not None
        with selectors.DefaultSelector() as waiting:
            waiting.register(self._wake[0], selectors.EVENT_READ, None)
            for listener, context in self._listeners:
                listener.setblocking(False)
                waiting.register(listener, selectors.EVENT_READ, context)
            while True:
                for key, _events in waiting.select():
                    if key.data is None:
                        return
                    self._accept_all(t.cast(socket.socket, key.fileobj), key.data)

    def _accept_all(self, listener: socket.socket, context: ssl.SSLContext) -> None:
        while True:
            try:
                connection, _peer = listener.accept()
            except OSError:  # nothing more waiting (EAGAIN), or the client already gave up
                return
            self._work.put((connection, context))

    def _serve_queue(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            connection, context = item
            try:
                _serve(connection, context)
            except Exception:  # noqa: BLE001, S110 - one client's failure never stops the endpoints
                pass
            finally:
                connection.close()


def _port_of(listener: socket.socket) -> int:
    return int(listener.getsockname()[1])


def _serve(connection: socket.socket, context: ssl.SSLContext) -> None:
    """One client: the TLS handshake through memory buffers, so that nothing is sent unless meant to be,
    then a minimal HTTP answer and close_notify. A failed handshake is closed without sending what OpenSSL
    wrote (no alert); when no certificate was found, with a TCP reset, as HTTP.sys does."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=True)
    try:
        _handshake(tls, connection, incoming, outgoing)
    except (OSError, ssl.SSLError):
        if getattr(tls, "lab_reset", False):
            # A zero linger makes the close that follows a reset.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return
    tls.write(_ANSWER)
    try:
        tls.unwrap()
    except ssl.SSLError:
        pass  # close_notify is written; the client's own is not awaited
    connection.sendall(outgoing.read())


def _handshake(tls: ssl.SSLObject, connection: socket.socket, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO) -> None:
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT
    while True:
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            pending = outgoing.read()
            if pending:
                connection.sendall(pending)
            connection.settimeout(max(deadline - time.monotonic(), 0.001))
            data = connection.recv(65536)
            if not data:
                raise ConnectionResetError(errno.ECONNRESET, "the client closed the connection during the handshake") from None
            incoming.write(data)


def write_endpoints(endpoints: t.Mapping[str, t.Any]) -> None:
    path = tls_dir() / "endpoints.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(endpoints, indent=1, sort_keys=True), encoding="utf-8")
    temp.replace(path)


def read_endpoints() -> dict[str, t.Any] | None:
    path = tls_dir() / "endpoints.json"
    if not path.exists():
        return None
    return t.cast(dict[str, t.Any], json.loads(path.read_text(encoding="utf-8")))


def lab_port(windows_port: int) -> int | None:
    """The port the running TLS lab serves a Windows port on (None: not served)."""
    endpoints = read_endpoints() or {}
    found = (endpoints.get("ports") or {}).get(str(windows_port))
    return int(found) if found is not None else None


# -- the command line (a server in its own process) ------------------------------------------------
def _is_our_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _SERVE_MARKER.encode() in cmdline and str(state_dir().resolve()).encode() in cmdline


def serve() -> None:
    lab = TlsLab().start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stopping.wait()
    lab.stop()


def stop() -> bool:
    pid_file = tls_dir() / "server.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text(encoding="ascii").strip() or 0)
    stopped = False
    if pid and _is_our_server(pid):
        os.kill(pid, signal.SIGTERM)
        for _tick in range(100):
            if not _is_our_server(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        stopped = True
    pid_file.unlink(missing_ok=True)
    (tls_dir() / "endpoints.json").unlink(missing_ok=True)
    return stopped


def start(inventory: Path | None) -> dict[str, t.Any]:
    if inventory is None and not read_lab_hosts():
        inventory = LAB_DIR / "inventory.yml"
    if inventory is not None:
        write_lab_hosts(load(inventory))
    stop()
    tls_dir().mkdir(parents=True, exist_ok=True)
    (tls_dir() / "endpoints.json").unlink(missing_ok=True)
    log = open(tls_dir() / "server.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", _SERVE_MARKER, "serve", "--state-dir", str(state_dir().resolve())],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    (tls_dir() / "server.pid").write_text(str(process.pid), encoding="ascii")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        endpoints = read_endpoints()
        if endpoints and endpoints["pid"] == process.pid:
            return endpoints
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop()
    raise SystemExit("tls-lab: the endpoints did not start:\n" + (tls_dir() / "server.log").read_text(encoding="utf-8", errors="replace")[-3000:])


def _describe(endpoints: t.Mapping[str, t.Any]) -> str:
    return "\n".join(f"{host}: " + "  ".join(f"{address}:{lab} (port {win})" for win, lab in endpoints["ports"].items())
                     for host, address in endpoints["hosts"].items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tls-lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "serve"])
    parser.add_argument("-i", "--inventory", type=Path)
    parser.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.state_dir:
        os.environ["IIS_LAB_STATE_DIR"] = str(args.state_dir)
    if args.command == "serve":
        serve()
    elif args.command == "start":
        print(_describe(start(args.inventory)))
    elif args.command == "stop":
        print("tls-lab: stopped" if stop() else "tls-lab: not running")
    else:
        endpoints = read_endpoints()
        if not endpoints or not _is_our_server(int(endpoints["pid"])):
            print("tls-lab: not running")
            return 1
        print(_describe(endpoints))
    return 0


if __name__ == "__main__":
    sys.exit(main())
