"""Protocol-level tests of the lab's WinRM endpoints (tests/lab/winrm-lab), with the real clients.

The endpoints are started through the real command line (``tests/lab/winrm-lab start``) in a
temporary state folder on free ports, and spoken to with pywinrm's ``winrm.Protocol`` and with
ansible-core's own ``winrm`` connection plugin: NTLM with [MS-WSMV] message encryption over
HTTP, Basic over HTTPS with real TLS, WinRS shells and commands, stdin sent in chunks, output
received in pieces bounded by the client's MaxEnvelopeSize, SOAP faults. What each exchange
looked like on the wire is read back from the endpoints' traffic log.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import zlib
import os
import socket
import subprocess
import sys
import time
import typing as t
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
import winrm
import yaml
from requests_ntlm import HttpNtlmAuth
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError

import ansible.executor.powershell
from ansible import constants as C
from ansible.errors import AnsibleConnectionFailure
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationError
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import MANIFEST_NAME, TEMP_PREFIX, TEMP_SUFFIX
from iis_lab.inventory import bypass_proxy

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "tests" / "lab"
WINRM_LAB = LAB / "winrm-lab"

USER, PASSWORD = "LAB\\ansible", "Lab-Ansible-Pa55!"
# A valid lab domain account that is not one of the network's winrm_users.
OTHER_USER, OTHER_PASSWORD = "LAB\\svc-ccs", "Lab-Reader-Pa55!"
NON_ASCII_SITE = "Boutique Z\u00fcrich \u6771\u4eac \U0001f389"
STORE = "D:\\CCS"
SHELL_NOT_FOUND = 2150858843
OPERATION_TIMED_OUT = 2150858793

# pywinrm's notice that it trusts REQUESTS_CA_BUNDLE from the environment: about the machine running the tests.
pytestmark = pytest.mark.filterwarnings("ignore:'pywinrm' will use an environment variable defined CA Trust:DeprecationWarning")


# --- the lab -------------------------------------------------------------------------------------------


def lab_inventory() -> dict[str, t.Any]:
    """tests/lab/inventory.yml (its network, accounts and winrm_users), with a site whose name is not ASCII on web01."""
    inventory = t.cast(dict[str, t.Any], yaml.safe_load((LAB / "inventory.yml").read_text(encoding="utf-8")))
    web01 = inventory["all"]["children"]["web"]["hosts"]["web01"]["iis_lab_profile"]
    web01["sites"].append({"name": NON_ASCII_SITE, "bindings": [{"protocol": "http", "binding_information": "*:8080:"}]})
    assert inventory["all"]["children"]["file_servers"]["hosts"]["fs01"]["iis_lab_profile"]["directories"] == [STORE]
    return inventory


def winrm_lab(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, for one state folder, on free ports, with the Python running the tests."""
    env = {**os.environ, "IIS_LAB_STATE_DIR": str(state), "IIS_LAB_PYTHON": sys.executable,
           "IIS_LAB_WINRM_HTTP_PORT": "0", "IIS_LAB_WINRM_HTTPS_PORT": "0"}
    return subprocess.run([str(WINRM_LAB), *args], capture_output=True, text=True, env=env, timeout=60, check=False)


@dataclasses.dataclass
class Endpoints:
    state: Path
    info: dict[str, t.Any]

    @classmethod
    def start(cls, root: Path) -> Endpoints:
        state = root / "state"
        state.mkdir(parents=True)
        inventory = root / "inventory.yml"
        inventory.write_text(yaml.safe_dump(lab_inventory(), allow_unicode=True, sort_keys=False), encoding="utf-8")
        proc = winrm_lab(state, "start", "-i", str(inventory))
        assert proc.returncode == 0, f"winrm-lab start failed:\n{proc.stdout}\n{proc.stderr}"
        return cls(state, json.loads((state / "winrm" / "endpoints.json").read_text(encoding="utf-8")))

    def stop(self) -> subprocess.CompletedProcess[str]:
        return winrm_lab(self.state, "stop")

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

    @property
    def ca(self) -> str:
        return str(self.info["ca"])

    def address(self, host: str) -> str:
        return str(self.info["hosts"][host])

    def url(self, host: str, scheme: str = "http") -> str:
        return f"{scheme}://{self.address(host)}:{self.info[scheme + '_port']}/wsman"

    def protocol(self, host: str = "fs01", scheme: str = "http", transport: str = "ntlm", user: str = USER, password: str = PASSWORD,
                 **kwargs: t.Any) -> winrm.Protocol:
        kwargs.setdefault("proxy", None)
        if scheme == "https":
            kwargs.setdefault("ca_trust_path", self.ca)
            kwargs.setdefault("server_cert_validation", "validate")
        return winrm.Protocol(self.url(host, scheme), transport=t.cast(t.Any, transport), username=user, password=password, **kwargs)

    def connection(self, host: str = "fs01", scheme: str = "http", transport: str = "ntlm", user: str = USER, password: str = PASSWORD,
                   **winrm_vars: t.Any) -> t.Any:
        """ansible-core's winrm connection plugin, given host variables the way TaskExecutor resolves them."""
        hostvars = {
            "ansible_host": self.address(host), "ansible_port": self.info[scheme + "_port"], "ansible_user": user,
            "ansible_password": password, "ansible_winrm_scheme": scheme, "ansible_winrm_transport": transport,
            "ansible_winrm_proxy": None, **winrm_vars,
        }
        connection = connection_loader.get("winrm", PlayContext())
        # As ConnectionBase._resolve_option_variables does: variables the plugin declares become its options,
        # other ansible_winrm_* ones go to pywinrm's Protocol as extras (its definitions are loaded with the plugin).
        declared = set(C.config.get_plugin_vars("connection", connection._load_name))
        var_options: dict[str, t.Any] = {"_extras": {}}
        for name, value in hostvars.items():
            if name in declared:
                var_options[name] = value
            elif name.startswith("ansible_winrm_"):
                var_options["_extras"][name] = value
        connection.set_options(var_options=var_options)
        return connection

    def traffic(self, until: t.Callable[[list[dict[str, t.Any]]], bool] = lambda _records: True) -> list[dict[str, t.Any]]:
        """The traffic log, waiting briefly for an expected record (a dropped exchange is logged after the drop)."""
        path = self.state / "winrm" / "traffic.jsonl"
        deadline = time.monotonic() + 5
        while True:
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
            if until(records) or time.monotonic() > deadline:
                return records
            time.sleep(0.02)

    @contextlib.contextmanager
    def state_env(self) -> t.Iterator[None]:
        """The lab's own modules (faults, state) in this process, pointed at this lab's state folder."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("IIS_LAB_STATE_DIR", str(self.state))
            yield

    @contextlib.contextmanager
    def faults(self, **faults: t.Any) -> t.Iterator[None]:
        from iis_lab.faults import set_faults

        with self.state_env():
            set_faults(**faults)
        try:
            yield
        finally:
            with self.state_env():
                set_faults()

    def local_path(self, host: str, windows_path: str) -> Path:
        from iis_lab.state import windows_to_local

        with self.state_env():
            return windows_to_local(host, windows_path)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Endpoints]:
    with pytest.MonkeyPatch.context() as patch:
        # Loopback endpoints: never through a proxy from the environment.
        for name, value in bypass_proxy(os.environ).items():
            patch.setenv(name, value)
        endpoints = Endpoints.start(tmp_path_factory.mktemp("winrm-endpoint"))
        try:
            yield endpoints
        finally:
            proc = endpoints.stop()
            assert proc.returncode == 0, proc.stderr


# --- helpers -------------------------------------------------------------------------------------------


def run_raw(protocol: winrm.Protocol, command: str, stdin: bytes | None, chunk: int = 200_000) -> tuple[int, bytes, bytes, str]:
    """One command through pywinrm's Protocol: stdin in chunks, output as the endpoint sent it (no CLIXML decoding)."""
    shell = protocol.open_shell(codepage=65001)
    try:
        command_id = protocol.run_command(shell, command, console_mode_stdin=stdin is None)
        if stdin is not None:
            for offset in range(0, len(stdin), chunk):
                protocol.send_command_input(shell, command_id, stdin[offset:offset + chunk], end=offset + chunk >= len(stdin))
        stdout, stderr, rc = protocol.get_command_output(shell, command_id)
        protocol.cleanup_command(shell, command_id)
        return rc, stdout, stderr, command_id
    finally:
        protocol.close_shell(shell)


def exec_operation(connection: t.Any, operation: str, params: t.Mapping[str, t.Any]) -> tuple[int, bytes, bytes]:
    return t.cast(tuple[int, bytes, bytes], connection.exec_command(host_ops.bootstrap_command(), in_data=host_ops.encode_payload(operation, params)))


def store_read_params(fetch: t.Sequence[str] = ()) -> dict[str, t.Any]:
    return {"path": STORE, "manifest_name": MANIFEST_NAME, "temp_prefix": TEMP_PREFIX, "temp_suffix": TEMP_SUFFIX, "fetch": list(fetch)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass
class Upload:
    name: str
    data: bytes
    payload: bytes
    rc: int
    stdout: bytes
    stderr: bytes


@pytest.fixture(scope="module")
def upload(lab: Endpoints) -> Upload:
    """A 4 MiB random file written to D:\\CCS on fs01 by write_cert_store through ansible-core's winrm connection."""
    name = f"big-{uuid.uuid4().hex[:8]}.pfx"
    data = os.urandom(4 * 1024 * 1024)
    manifest = json.dumps({"format": 1, "files": {name: {"sha256": sha256(data)}}}).encode()
    params = {
        "path": STORE, "manifest_name": MANIFEST_NAME, "manifest_data": base64.b64encode(manifest).decode("ascii"),
        "temp_prefix": TEMP_PREFIX, "temp_suffix": TEMP_SUFFIX, "removes": [], "stale_temps": [],
        "files": [{"name": name, "data": base64.b64encode(data).decode("ascii"), "sha256": sha256(data), "mtime": time.time_ns() // 100}],
    }
    payload = host_ops.encode_payload("write_cert_store", params)
    connection = lab.connection()
    try:
        rc, stdout, stderr = connection.exec_command(host_ops.bootstrap_command(), in_data=payload)
    finally:
        connection.close()
    return Upload(name, data, payload, rc, stdout, stderr)


# --- 1. large stdin ------------------------------------------------------------------------------------


def test_large_stdin_arrives_intact_in_several_send_chunks(lab: Endpoints, upload: Upload) -> None:
    assert len(upload.payload) >= 5 * 1024 * 1024
    answer = host_ops.decode_answer("write_cert_store", "fs01", upload.rc, upload.stdout, upload.stderr)
    assert upload.rc == 0
    assert answer["written"][upload.name]["size"] == len(upload.data)

    digest = sha256(upload.payload)
    records = lab.traffic(lambda rs: any(r.get("stdin_sha256") == digest for r in rs))
    last_send = [r for r in records if r.get("stdin_sha256") == digest]
    assert len(last_send) == 1, "the endpoint must have received exactly the bytes sent on stdin"
    command_id = last_send[0]["command_id"]
    sends = [r for r in records if r["action"] == "send" and r["command_id"] == command_id]
    assert last_send[0]["stdin_chunks"] > 1
    assert len(sends) == last_send[0]["stdin_chunks"]
    # NTLM over HTTP with message encryption, as the account Ansible logs on with; every byte crossed real HTTP.
    assert {(r["scheme"], r["user"]) for r in sends} == {("http", USER)}
    assert sum(r["request_bytes"] for r in sends) > len(upload.payload) * 4 // 3

    written = lab.local_path("fs01", f"{STORE}\\{upload.name}")
    assert written.read_bytes() == upload.data
    assert not [p.name for p in written.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


# --- 2. large output -----------------------------------------------------------------------------------


def test_large_output_arrives_intact_in_several_receive_responses(lab: Endpoints, upload: Upload) -> None:
    payload = host_ops.encode_payload("read_cert_store", store_read_params([upload.name]))
    connection = lab.connection()
    try:
        rc, stdout, stderr = connection.exec_command(host_ops.bootstrap_command(), in_data=payload)
    finally:
        connection.close()
    answer = host_ops.decode_answer("read_cert_store", "fs01", rc, stdout, stderr)
    assert base64.b64decode(answer["contents"][upload.name]) == upload.data
    assert len(stdout) > 4 * 1024 * 1024

    digest = sha256(payload)
    records = lab.traffic(lambda rs: any(r.get("stdin_sha256") == digest for r in rs) and rs[-1]["action"] == "delete")
    command_id = next(r["command_id"] for r in records if r.get("stdin_sha256") == digest)
    receives = [r for r in records if r["action"] == "receive" and r["command_id"] == command_id]
    # 153600 is the MaxEnvelopeSize pywinrm asks for: ~5.6 MB of output needs dozens of responses.
    assert len(receives) >= 2
    assert len(receives) >= len(stdout) * 4 // 3 // 153600


@pytest.mark.parametrize("max_envelope", [153600, 51200])
def test_receive_pieces_honour_the_clients_max_envelope_size(lab: Endpoints, max_envelope: int) -> None:
    """153600 is what pywinrm (and so ansible-core) asks for; a client asking for less gets smaller pieces."""
    protocol = lab.protocol()
    envelopes: list[int] = []
    send_message = protocol.transport.send_message
    # pywinrm writes MaxEnvelopeSize as a constant; this client rewrites it to ask for its own size.
    asked = '<w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize>'

    def sized(message: str | bytes) -> bytes:
        text = message.decode("utf-8") if isinstance(message, bytes) else message
        assert asked in text
        answer = send_message(text.replace(asked, asked.replace("153600", str(max_envelope))))
        if "/shell/Receive</a:Action>" in text:
            envelopes.append(len(answer))
        return answer

    protocol.transport.send_message = sized  # type: ignore[method-assign]
    # A 1 MiB file put straight into the host's folder: this test is about the answer, not the upload.
    name, data = f"medium-{max_envelope}.pfx", os.urandom(1024 * 1024)
    path = lab.local_path("fs01", f"{STORE}\\{name}")
    path.parent.mkdir(parents=True, exist_ok=True)  # D:\CCS is in fs01's profile; it may not have been used yet
    path.write_bytes(data)
    payload = host_ops.encode_payload("read_cert_store", store_read_params([name]))
    rc, stdout, stderr, _command_id = run_raw(protocol, host_ops.bootstrap_command(), payload)
    answer = host_ops.decode_answer("read_cert_store", "fs01", rc, stdout, stderr)
    assert base64.b64decode(answer["contents"][name]) == data
    # Every decrypted SOAP envelope fits the size this client asked for, and the pieces are not needlessly small.
    assert max(envelopes) <= max_envelope
    assert len(envelopes) <= 2 * (len(stdout) * 4 // 3 // max_envelope + 1)


def test_listener_sockets_send_small_answers_at_once() -> None:
    """Each WinRM exchange is a small request and response on a kept-alive connection, and the listener
    writes headers and body separately: without TCP_NODELAY every answer waits for the client's delayed
    ACK (about 40 ms on Linux). The handler sets the option on each accepted socket; what that is worth
    in time is measured by tools/benchmark_winrm.py, not asserted here."""
    from iis_lab.winrm_http import _Handler

    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as _client:
        accepted, _address = server.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
            handler = _Handler.__new__(_Handler)
            handler.request = accepted
            _Handler.setup(handler)
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_commands_on_one_shell_are_four_exchanges_each(lab: Endpoints) -> None:
    protocol = lab.protocol("web01")
    payload = host_ops.encode_payload("read_host_state", {"sections": ["windows"]})
    before = len(lab.traffic())
    shell = protocol.open_shell()
    try:
        for _round in range(20):  # 4 exchanges each: Command, Send, Receive, Signal
            command_id = protocol.run_command(shell, host_ops.bootstrap_command(), console_mode_stdin=False)
            protocol.send_command_input(shell, command_id, payload, end=True)
            stdout, stderr, rc = protocol.get_command_output(shell, command_id)
            protocol.cleanup_command(shell, command_id)
            assert host_ops.decode_answer("read_host_state", "web01", rc, stdout, stderr)["windows"]["hostname"] == "WEB01"
    finally:
        protocol.close_shell(shell)
    records = lab.traffic(lambda rs: len(rs) > before and rs[-1]["action"] == "delete")[before:]
    actions = collections.Counter(r["action"] for r in records)
    assert {a: actions[a] for a in ("command", "send", "receive", "signal")} == {"command": 20, "send": 20, "receive": 20, "signal": 20}


# --- 3. non-ASCII --------------------------------------------------------------------------------------


def test_non_ascii_site_name_round_trips_exactly(lab: Endpoints) -> None:
    connection = lab.connection("web01")
    try:
        rc, stdout, stderr = exec_operation(connection, "read_host_state", {"sections": ["sites"], "site_names": [NON_ASCII_SITE]})
        wrong_rc, wrong_out, wrong_err = exec_operation(connection, "write_cert_store", {
            "path": "D:\\Z\u00fcrich \u6771\u4eac \U0001f389", "manifest_name": MANIFEST_NAME, "manifest_data": "",
            "temp_prefix": TEMP_PREFIX, "temp_suffix": TEMP_SUFFIX, "files": []})
    finally:
        connection.close()
    # The parameter went out as JSON escapes, the answer came back as JSON escapes: ASCII both ways.
    stdout.decode("ascii")
    answer = host_ops.decode_answer("read_host_state", "web01", rc, stdout, stderr)
    assert [site["name"] for site in answer["sites"]] == [NON_ASCII_SITE]
    assert answer["sites"][0]["bindings"][0]["binding_information"] == "*:8080:"
    # A Windows error message naming a non-ASCII path arrives exactly too.
    with pytest.raises(HostOperationError) as error:
        host_ops.decode_answer("write_cert_store", "web01", wrong_rc, wrong_out, wrong_err)
    assert error.value.windows_message == "The store folder 'D:\\Z\u00fcrich \u6771\u4eac \U0001f389' does not exist."


# --- 4. anything but the bootstrap ---------------------------------------------------------------------


def test_commands_that_are_not_the_bootstrap_are_not_emulated(lab: Endpoints) -> None:
    wrapper = (Path(ansible.executor.powershell.__file__).parent / "bootstrap_wrapper.ps1").read_text(encoding="utf-8-sig")
    exec_wrapper_form = " ".join(host_ops._POWERSHELL_ARGS + (base64.b64encode(wrapper.encode("utf-16-le")).decode("ascii"),))
    lines = host_ops.encode_payload("read_host_state", {"sections": ["windows"]}).split(b"\n")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    script = host_ops.cached_script("read_host_state").encode("ascii") + b"\nRemove-Item -Recurse C:\\\n"
    tampered = b"\n".join(lines[:3] + [base64.b64encode(compressor.compress(script) + compressor.flush())])
    connection = lab.connection("web01")
    try:
        answers = {
            "raw": connection.exec_command("Get-Date"),
            "exec wrapper": connection.exec_command(exec_wrapper_form, in_data=b'{"module_entry": "..."}\n\0\0\0\0\n'),
            "tampered script": connection.exec_command(host_ops.bootstrap_command(), in_data=tampered),
        }
    finally:
        connection.close()
    for form, (rc, stdout, stderr) in answers.items():
        assert (rc, stdout) == (1, b""), form
        assert stderr.startswith(b"iis_lab: not emulated: "), (form, stderr)
    # ("raw": ansible-core 2.21 starts powershell.exe as "powershell", 2.19 as "PowerShell": either way not the bootstrap.)
    assert b"the encoded launcher differs" in answers["exec wrapper"][2]
    assert b"is not a shipped operation's" in answers["tampered script"][2]


# --- 5. PowerShell blocked -----------------------------------------------------------------------------


def test_powershell_blocked_answers_clixml_on_stderr(lab: Endpoints) -> None:
    payload = host_ops.encode_payload("read_host_state", {"sections": ["windows"]})
    with lab.faults(powershell_blocked=["web02"]):
        rc, stdout, stderr, _command_id = run_raw(lab.protocol("web02"), host_ops.bootstrap_command(), payload)
        connection = lab.connection("web02")
        try:
            plugin_rc, plugin_out, plugin_err = connection.exec_command(host_ops.bootstrap_command(), in_data=payload)
        finally:
            connection.close()
    assert (rc, stdout) == (1, b"")
    assert stderr.startswith(b"#< CLIXML\r\n")
    with pytest.raises(HostOperationError) as error:
        host_ops.decode_answer("read_host_state", "web02", rc, stdout, stderr)
    assert "blocked by your antivirus software" in str(error.value)
    assert "_x000D_" not in str(error.value) and "<S S=" not in str(error.value)
    # ansible-core's plugin decodes CLIXML itself; the collection reads either form.
    assert plugin_rc == 1 and not plugin_err.startswith(b"#< CLIXML")
    with pytest.raises(HostOperationError, match="blocked by your antivirus software"):
        host_ops.decode_answer("read_host_state", "web02", plugin_rc, plugin_out, plugin_err)
    # Once the fault is gone the same host answers.
    rc, stdout, stderr, _command_id = run_raw(lab.protocol("web02"), host_ops.bootstrap_command(), payload)
    assert host_ops.decode_answer("read_host_state", "web02", rc, stdout, stderr)["windows"]["hostname"] == "WEB02"


# --- 6. authentication ---------------------------------------------------------------------------------


class _Captured(Exception):
    pass


def _create_shell_message(lab: Endpoints) -> bytes:
    """The Create (shell) message pywinrm sends, in clear: taken before its transport would encrypt it."""
    protocol = lab.protocol()
    captured: list[str | bytes] = []

    def capture(message: str | bytes) -> bytes:
        captured.append(message)
        raise _Captured

    protocol.transport.send_message = capture  # type: ignore[method-assign]
    with pytest.raises(_Captured):
        protocol.open_shell()
    message = captured[0]
    return message.encode("utf-8") if isinstance(message, str) else message


def test_ntlm_wrong_password_is_rejected(lab: Endpoints) -> None:
    with pytest.raises(InvalidCredentialsError) as error:
        lab.protocol(password="wrong-password").open_shell()
    assert error.value.code == 401
    with pytest.raises(AnsibleConnectionFailure, match="credentials were rejected"):
        lab.connection(password="wrong-password").exec_command("Get-Date")
    records = lab.traffic(lambda rs: rs[-1]["action"] == "auth-rejected")
    assert records[-1]["action"] == "auth-rejected"


@pytest.mark.parametrize("scheme,transport", [("http", "ntlm"), ("https", "basic")])
def test_valid_account_that_is_not_a_winrm_user_is_refused(lab: Endpoints, scheme: str, transport: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        lab.protocol(scheme=scheme, transport=transport, user=OTHER_USER, password=OTHER_PASSWORD).open_shell()
    # The same credentials work once the account is a WinRM user: the refusal was about winrm_users.
    with winrm_user_added(lab, "fs01", OTHER_USER):
        protocol = lab.protocol(scheme=scheme, transport=transport, user=OTHER_USER, password=OTHER_PASSWORD)
        protocol.close_shell(protocol.open_shell())


@contextlib.contextmanager
def winrm_user_added(lab: Endpoints, host: str, account: str) -> t.Iterator[None]:
    """account is one of host's winrm_users while the block runs (lab-hosts.json, which the endpoints read per logon)."""
    from iis_lab.inventory import read_lab_hosts

    hosts_file = lab.state / "lab-hosts.json"
    original = hosts_file.read_text(encoding="utf-8")
    with lab.state_env():
        hosts = read_lab_hosts()
    hosts[host]["network"]["winrm_users"].append(account)
    hosts_file.write_text(json.dumps({"hosts": hosts}), encoding="utf-8")
    try:
        yield
    finally:
        hosts_file.write_text(original, encoding="utf-8")


def test_scripts_kept_for_one_account_are_a_cache_miss_for_another(lab: Endpoints) -> None:
    """The WinRM endpoint runs a command as the owner of its shell, whose temporary folder is its own, as on
    Windows: the script LAB\\ansible's call kept is not there for LAB\\svc-ccs, whose cached call runs nothing."""
    cached = host_ops.encode_call("read_host_state", {"sections": ["windows"]}, send_script=False)
    sending = host_ops.encode_call("read_host_state", {"sections": ["windows"]}, send_script=True)
    assert run_raw(lab.protocol("web02"), host_ops.bootstrap_command(), sending)[0] == 0
    rc, stdout, stderr, _command = run_raw(lab.protocol("web02"), host_ops.bootstrap_command(), cached)
    assert host_ops.decode_answer("read_host_state", "web02", rc, stdout, stderr)["windows"]["hostname"] == "WEB02"
    with winrm_user_added(lab, "web02", OTHER_USER):
        other = lab.protocol("web02", user=OTHER_USER, password=OTHER_PASSWORD)
        rc, stdout, _stderr, _command = run_raw(other, host_ops.bootstrap_command(), cached)
        assert (rc, json.loads(stdout)["error"]["type"]) == (0, host_ops.CACHE_MISS_ERROR)
        rc, stdout, stderr, _command = run_raw(other, host_ops.bootstrap_command(), sending)
        assert host_ops.decode_answer("read_host_state", "web02", rc, stdout, stderr)["windows"]["hostname"] == "WEB02"


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_https_with_the_lab_ca(lab: Endpoints, transport: str) -> None:
    """Basic (and NTLM, without message encryption) over HTTPS, the certificate validated against the lab CA."""
    payload = host_ops.encode_payload("read_host_state", {"sections": ["windows"], "site_names": [transport]})
    rc, stdout, stderr, _command_id = run_raw(lab.protocol("web03", scheme="https", transport=transport), host_ops.bootstrap_command(), payload)
    assert host_ops.decode_answer("read_host_state", "web03", rc, stdout, stderr)["windows"]["build"] == 14393
    connection = lab.connection("web03", scheme="https", transport=transport, ansible_winrm_ca_trust_path=lab.ca,
                                ansible_winrm_server_cert_validation="validate")
    try:
        rc, stdout, stderr = connection.exec_command(host_ops.bootstrap_command(), in_data=payload)
    finally:
        connection.close()
    assert host_ops.decode_answer("read_host_state", "web03", rc, stdout, stderr)["windows"]["hostname"] == "WEB03"
    digest = sha256(payload)
    # (Basic logons are recorded by their canonical, lower-case account name, NTLM ones as the client spelt them.)

    def sent(records: list[dict[str, t.Any]]) -> list[tuple[str, str]]:
        return [(r["scheme"], r["user"].lower()) for r in records if r.get("stdin_sha256") == digest and r["host"] == "web03"]

    assert sent(lab.traffic(lambda rs: len(sent(rs)) == 2)) == [("https", USER.lower())] * 2


def test_basic_over_http_is_refused(lab: Endpoints) -> None:
    with pytest.raises(InvalidCredentialsError):
        lab.protocol(transport="basic").open_shell()
    # HTTP offers Negotiate only; HTTPS offers Basic as well (AllowUnencrypted=false, Basic over TLS only).
    http = requests.post(lab.url("fs01"), data=b"", timeout=10, proxies={"http": "", "https": ""})
    https = requests.post(lab.url("fs01", "https"), data=b"", timeout=10, verify=lab.ca, proxies={"http": "", "https": ""})
    assert http.status_code == https.status_code == 401
    assert "basic" not in http.headers["WWW-Authenticate"].lower()
    assert "negotiate" in http.headers["WWW-Authenticate"].lower()
    assert "basic" in https.headers["WWW-Authenticate"].lower()


def test_https_without_the_lab_ca_fails_certificate_validation(lab: Endpoints) -> None:
    for trust in ("legacy_requests", None):  # the environment's CA bundle, then certifi's
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            lab.protocol(scheme="https", transport="basic", ca_trust_path=trust).open_shell()
    with pytest.raises(AnsibleConnectionFailure, match="CERTIFICATE_VERIFY_FAILED"):
        lab.connection(scheme="https", transport="basic", ansible_winrm_server_cert_validation="validate").exec_command("Get-Date")


def test_unencrypted_soap_after_ntlm_is_refused_on_http(lab: Endpoints) -> None:
    message = _create_shell_message(lab)
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}
    with requests.Session() as session:
        session.trust_env = False
        session.auth = HttpNtlmAuth(USER, PASSWORD)
        first = session.post(lab.url("fs01"), data=message, headers=headers, timeout=10)
        # The NTLM exchange completed (two 401 legs), then the clear-text body was refused.
        assert [r.status_code for r in first.history] == [401, 401]
        assert first.status_code == 400
        # Same authenticated connection, no new Authorization header: still refused.
        second = session.post(lab.url("fs01"), data=message, headers=headers, timeout=10)
        assert second.status_code == 400
    records = lab.traffic(lambda rs: [r["action"] for r in rs][-2:] == ["unencrypted-refused"] * 2)
    assert [(r["action"], r.get("user")) for r in records[-2:]] == [("unencrypted-refused", USER)] * 2
    # The very same message is fine over HTTPS, where TLS protects it: the refusal is the encryption rule.
    over_tls = requests.post(lab.url("fs01", "https"), data=message, headers=headers, auth=(USER, PASSWORD), verify=lab.ca, timeout=10,
                             proxies={"http": "", "https": ""})
    assert over_tls.status_code == 200
    shell_id = ET.fromstring(over_tls.content).findtext(".//{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}ShellId")
    assert shell_id
    lab.protocol("fs01", scheme="https", transport="basic").close_shell(shell_id)


# --- 7. faults -----------------------------------------------------------------------------------------


def test_unknown_shell_id_is_a_shell_not_found_fault(lab: Endpoints) -> None:
    protocol = lab.protocol()
    with pytest.raises(WSManFaultError) as unknown:
        protocol.run_command(str(uuid.uuid4()).upper(), "cmd")
    assert unknown.value.code == 500
    assert unknown.value.wsman_fault_code == SHELL_NOT_FOUND
    shell = protocol.open_shell()
    protocol.close_shell(shell)
    with pytest.raises(WSManFaultError) as closed:
        protocol.get_command_output_raw(shell, str(uuid.uuid4()).upper())
    assert closed.value.wsman_fault_code == SHELL_NOT_FOUND
    assert "shell was not found" in closed.value.reason


def test_receive_on_a_running_command_times_out_and_then_completes(lab: Endpoints) -> None:
    """A command blocked on the host (here: on its state lock, held by this test) answers Receive with OperationTimeout."""
    protocol = lab.protocol(operation_timeout_sec=1, read_timeout_sec=5)
    payload = host_ops.encode_payload("read_cert_store", store_read_params())
    shell = protocol.open_shell()
    try:
        with open(lab.state / "fs01.json.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            command_id = protocol.run_command(shell, host_ops.bootstrap_command(), console_mode_stdin=False)
            protocol.send_command_input(shell, command_id, payload, end=True)
            with pytest.raises(WinRMOperationTimeoutError):
                protocol.get_command_output_raw(shell, command_id)
        stdout, stderr, rc = protocol.get_command_output(shell, command_id)
        assert host_ops.decode_answer("read_cert_store", "fs01", rc, stdout, stderr)["exists"] is True

        # A command whose stdin has not ended has not run yet: it is waiting for input.
        waiting = protocol.run_command(shell, host_ops.bootstrap_command(), console_mode_stdin=False)
        protocol.send_command_input(shell, waiting, payload[:1000], end=False)
        with pytest.raises(WinRMOperationTimeoutError):
            protocol.get_command_output_raw(shell, waiting)
        protocol.send_command_input(shell, waiting, payload[1000:], end=True)
        stdout, stderr, rc = protocol.get_command_output(shell, waiting)
        assert host_ops.decode_answer("read_cert_store", "fs01", rc, stdout, stderr)["exists"] is True
    finally:
        protocol.close_shell(shell)
    records = lab.traffic(lambda rs: [r.get("fault") for r in rs].count(OPERATION_TIMED_OUT) >= 2)
    assert [r.get("fault") for r in records].count(OPERATION_TIMED_OUT) >= 2


# --- 8. stop -------------------------------------------------------------------------------------------


def _answers(endpoints: Endpoints) -> bool:
    protocol = endpoints.protocol(read_timeout_sec=5, operation_timeout_sec=3)
    protocol.close_shell(protocol.open_shell())
    return True


def test_stop_stops_only_its_own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in bypass_proxy(os.environ).items():
        monkeypatch.setenv(name, value)
    first, second = Endpoints.start(tmp_path / "first"), Endpoints.start(tmp_path / "second")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        assert first.pid != second.pid and _answers(first) and _answers(second)

        proc = second.stop()
        assert (proc.returncode, proc.stdout.strip()) == (0, "winrm-lab: stopped")
        assert winrm_lab(second.state, "status").returncode == 1
        with pytest.raises(requests.exceptions.ConnectionError):
            _answers(second)
        assert winrm_lab(first.state, "status").returncode == 0
        assert _answers(first)

        # A pid file naming a process that is not this folder's server: neither a stranger nor another lab's server.
        for pid in (sleeper.pid, first.pid):
            (second.state / "winrm" / "server.pid").write_text(str(pid), encoding="ascii")
            proc = second.stop()
            assert (proc.returncode, proc.stdout.strip()) == (0, "winrm-lab: not running")
            assert winrm_lab(second.state, "status").returncode == 1
        assert sleeper.poll() is None, "winrm-lab stop killed a process that is not its server"
        assert _answers(first)
    finally:
        sleeper.kill()
        sleeper.wait()
        first.stop()
        second.stop()
    assert winrm_lab(first.state, "status").returncode == 1


def test_a_shell_belongs_to_its_account_whatever_the_case_of_its_name() -> None:
    import xmltodict

    from iis_lab.wsman import CMD_RESOURCE, CommandOutcome, WinRS, WsmanFault

    client = winrm.Protocol("http://127.0.0.1/wsman", username="LAB\\ansible", password="x")
    winrs = WinRS(lambda command_line, stdin, account: CommandOutcome(0, b"", b""), "http://127.0.0.1/wsman")

    def message(action: str, shell_id: str | None = None, body: dict[str, t.Any] | None = None) -> bytes:
        envelope = client.build_wsman_header(action=action, resource_uri=CMD_RESOURCE, shell_id=shell_id)
        envelope["env:Body"] = body or {}
        return xmltodict.unparse({"env:Envelope": envelope}).encode("utf-8")

    created = winrs.handle(message("http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
                                   body={"rsp:Shell": {"rsp:InputStreams": "stdin", "rsp:OutputStreams": "stdout stderr"}}), "LAB\\ansible")
    delete = message("http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete", shell_id=created.shell_id)
    with pytest.raises(WsmanFault) as refused:
        winrs.handle(delete, "LAB\\svc-ccs")
    assert refused.value.code == 2150858843
    # NTLM reports the name as the client spelt it, Basic as the account's canonical form: the same account.
    assert winrs.handle(delete, "lab\\ANSIBLE").action == "delete"
