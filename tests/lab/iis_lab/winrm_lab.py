"""tests/lab/winrm-lab: WinRM endpoints for the emulated hosts, on loopback only.

    winrm-lab start [-i INVENTORY]   (re)start the endpoints of the hosts INVENTORY defines, in the
                                     background (default: the hosts defined last in this state
                                     folder, else those of tests/lab/inventory-winrm.yml)
    winrm-lab stop                   stop them (only the process this state folder started)
    winrm-lab status                 print the endpoints, exit 1 when not running
    winrm-lab inventory [-i INV]     print INV (an iis_lab-connection inventory, default
                                     tests/lab/inventory.yml) converted to WinRM

Each host gets its own loopback address (its ansible_host, or 127.0.10.N) with an HTTP
listener (NTLM + message encryption) and an HTTPS listener (Basic or NTLM; the certificate's
CA is written to <state>/winrm/ca.pem). State is $IIS_LAB_STATE_DIR, shared with the iis_lab
connection plugin; ports come from IIS_LAB_WINRM_HTTP_PORT / IIS_LAB_WINRM_HTTPS_PORT
(default 5985 / 5986; 0 picks free ones, written to <state>/winrm/endpoints.json).
"""

from __future__ import annotations

import argparse
import datetime
import errno
import ipaddress
import json
import os
import signal
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path

import yaml

from . import emulator, faults
from .errors import LabProtocolError, WindowsError_
from .inventory import (WINRM_HTTP_PORT, WINRM_HTTPS_PORT, assign_addresses, host_definitions, load, read_lab_hosts, to_winrm,
                        write_lab_hosts)
from .network import Network
from .state import state_dir
from .winrm_http import Listener, TrafficLog, ntlm_user_file
from .wsman import CommandOutcome, WinRS

LAB_DIR = Path(__file__).resolve().parents[1]
_SERVE_MARKER = "iis_lab.winrm_lab"


def winrm_dir() -> Path:
    return state_dir() / "winrm"


# -- what the endpoints do -------------------------------------------------------------
def _winrm_users(network_config: t.Mapping[str, t.Any]) -> tuple[Network, set[str]]:
    """The lab network, and the canonical names of the accounts it lets log on over WinRM."""
    network = Network(network_config)
    return network, {network.canonical_account(str(u)) for u in network_config.get("winrm_users") or []}


class LabBackend:
    """Runs commands on the emulated hosts and decides who may log on to them."""

    def __init__(self) -> None:
        self._ntlm_accounts: dict[str, str] | None = None

    def run(self, host: str, command_line: str, stdin: bytes, account: str) -> CommandOutcome:
        definition = read_lab_hosts().get(host) or {}
        try:
            rc, stdout, stderr = emulator.execute(host, definition.get("profile"), definition.get("network"), command_line, stdin, account=account)
        except LabProtocolError as exc:
            message = f"iis_lab: not emulated: {exc}. The lab runs only the iis.ccs bootstrap with a shipped operation.\r\n"
            return CommandOutcome(1, b"", message.encode("utf-8"))
        return CommandOutcome(rc, stdout, stderr, faults.take_connection_drop(host, emulator.operation_of(stdin, stdout)))

    def basic_logon(self, host: str, user: str, password: str) -> str | None:
        definition = read_lab_hosts().get(host) or {}
        network, allowed = _winrm_users(definition.get("network") or {})
        local_accounts = (definition.get("profile") or {}).get("local_accounts") or {}
        try:
            account = network.check_logon(host, local_accounts, user, password)
        except WindowsError_:
            return None
        return account if network.canonical_account(account) in allowed else None

    def may_use_winrm(self, host: str, principal: str) -> bool:
        network, allowed = _winrm_users((read_lab_hosts().get(host) or {}).get("network") or {})
        return network.canonical_account(principal) in allowed

    def refresh_ntlm_credentials(self) -> None:
        accounts: dict[str, str] = {}
        for definition in read_lab_hosts().values():
            config = definition.get("network") or {}
            network, allowed = _winrm_users(config)
            accounts.update({str(name): str(password) for name, password in (config.get("accounts") or {}).items()
                             if network.canonical_account(str(name)) in allowed})
        # Tests redefine the lab between runs (lab-hosts.json); rewrite the file only when that changed it.
        if accounts != self._ntlm_accounts:
            ntlm_user_file(winrm_dir() / "ntlm-users", accounts)
            self._ntlm_accounts = accounts


# -- the server process ------------------------------------------------------------------
def _tls_context(names: t.Mapping[str, str]) -> tuple[ssl.SSLContext, bytes]:
    """A lab CA and a server certificate for every host name and address (the CA goes to ca.pem),
    and the certificate's tls-server-end-point channel binding (RFC 5929) NTLM over HTTPS is checked against."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iis.ccs lab WinRM CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(ca_key, hashes.SHA256()))
    alt_names: list[x509.GeneralName] = [x509.DNSName(h) for h in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in names.values()]
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iis.ccs lab WinRM")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False).sign(ca_key, hashes.SHA256()))
    (winrm_dir() / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_pem = winrm_dir() / "server.pem"
    server_pem.touch(mode=0o600)
    server_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
                           + leaf.public_bytes(serialization.Encoding.PEM))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(server_pem))
    return context, b"tls-server-end-point:" + leaf.fingerprint(hashes.SHA256())


class _LabListener(Listener):
    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the address up in DNS (getfqdn); offline that can hang.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.lab_host, self.server_address[1]


def _bind_all(addresses: t.Mapping[str, str], port: int, make: t.Callable[[str, str, int], Listener]) -> list[Listener]:
    """One listener per host, all on the same port (0: the first free one they all can share)."""
    for _attempt in range(50):
        listeners: list[Listener] = []
        try:
            for host, address in addresses.items():
                listeners.append(make(host, address, port or (listeners[0].server_address[1] if listeners else 0)))
            return listeners
        except OSError as exc:
            for listener in listeners:
                listener.server_close()
            if port or exc.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE, "no port free on every lab address")


def serve() -> None:
    definitions = read_lab_hosts()
    if not definitions:
        raise SystemExit("winrm-lab: no lab hosts defined; start with -i INVENTORY")
    addresses = assign_addresses(definitions)
    backend, traffic = LabBackend(), TrafficLog(winrm_dir() / "traffic.jsonl")
    tls, channel_binding = _tls_context(addresses)
    shells = {host: WinRS(lambda cmd, stdin, account, host=host: backend.run(host, cmd, stdin, account), f"http://{address}/wsman")
              for host, address in addresses.items()}
    ports = {"http": int(os.environ.get("IIS_LAB_WINRM_HTTP_PORT", WINRM_HTTP_PORT)),
             "https": int(os.environ.get("IIS_LAB_WINRM_HTTPS_PORT", WINRM_HTTPS_PORT))}
    listeners = _bind_all(addresses, ports["http"], lambda h, a, p: _LabListener((a, p), h, shells[h], backend, traffic, None))
    listeners += _bind_all(addresses, ports["https"], lambda h, a, p: _LabListener((a, p), h, shells[h], backend, traffic, tls, channel_binding))
    for listener in listeners:
        threading.Thread(target=listener.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    endpoints = {
        "pid": os.getpid(),
        "http_port": listeners[0].server_address[1],
        "https_port": listeners[-1].server_address[1],
        "hosts": dict(addresses),
        "ca": str(winrm_dir() / "ca.pem"),
    }
    _write_json(winrm_dir() / "endpoints.json", endpoints)
    stopping.wait()
    # In parallel: each shutdown waits for its listener's next poll.
    closers = [threading.Thread(target=listener.shutdown) for listener in listeners]
    for closer in closers:
        closer.start()
    for closer, listener in zip(closers, listeners):
        closer.join()
        listener.server_close()


# -- the command line ----------------------------------------------------------------------
def _write_json(path: Path, data: t.Any) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    temp.replace(path)


def read_endpoints() -> dict[str, t.Any] | None:
    path = winrm_dir() / "endpoints.json"
    if not path.exists():
        return None
    endpoints = t.cast(dict[str, t.Any], json.loads(path.read_text(encoding="utf-8")))
    return endpoints if _is_our_server(int(endpoints["pid"])) else None


def _is_our_server(pid: int) -> bool:
    # Only a process started for this state folder counts, never another lab's or a reused pid.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _SERVE_MARKER.encode() in cmdline and str(state_dir().resolve()).encode() in cmdline


def stop() -> bool:
    pid_file = winrm_dir() / "server.pid"
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
    (winrm_dir() / "endpoints.json").unlink(missing_ok=True)
    return stopped


def start(inventory: Path | None) -> dict[str, t.Any]:
    """Without an inventory, the hosts defined last time (lab-hosts.json), else inventory-winrm.yml's."""
    if inventory is None and not read_lab_hosts():
        inventory = LAB_DIR / "inventory-winrm.yml"
    if inventory is not None:
        write_lab_hosts(load(inventory))
    stop()
    winrm_dir().mkdir(parents=True, exist_ok=True)
    log = open(winrm_dir() / "server.log", "ab")
    # Its own session: stopping it, or a terminal's ^C, never reaches whoever started it.
    process = subprocess.Popen([sys.executable, "-m", _SERVE_MARKER, "serve", "--state-dir", str(state_dir().resolve())],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    (winrm_dir() / "server.pid").write_text(str(process.pid), encoding="ascii")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        endpoints = read_endpoints()
        if endpoints and endpoints["pid"] == process.pid:
            return endpoints
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop()
    tail = (winrm_dir() / "server.log").read_text(encoding="utf-8", errors="replace")[-3000:]
    raise SystemExit(f"winrm-lab: the endpoints did not start:\n{tail}")


def _describe(endpoints: t.Mapping[str, t.Any]) -> str:
    return "\n".join(f"{host}: http://{address}:{endpoints['http_port']}/wsman  https://{address}:{endpoints['https_port']}/wsman"
                     for host, address in endpoints["hosts"].items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="winrm-lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "inventory", "serve"])
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
        print("winrm-lab: stopped" if stop() else "winrm-lab: not running")
    elif args.command == "status":
        endpoints = read_endpoints()
        if not endpoints:
            print("winrm-lab: not running")
            return 1
        print(_describe(endpoints))
    else:
        inventory = load(args.inventory or LAB_DIR / "inventory.yml")
        addresses = assign_addresses(host_definitions(inventory))
        print(yaml.safe_dump(to_winrm(inventory, addresses), sort_keys=False, allow_unicode=True), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
