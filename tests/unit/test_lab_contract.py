"""The emulated lab answers exactly what the collection ships, and refuses anything else.

Every PowerShell operation script has a Python emulation and vice versa, and the emulator's
entry point (what the lab connection plugin hands a task's exec_command to) refuses what a real
host running the launcher and a loader would not run: an unknown operation, a script that differs
from the shipped one, another command line, and a payload that is not ASCII.
"""

from __future__ import annotations

import base64
import hashlib
import json
import typing as t
import zlib
from pathlib import Path

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from iis_lab import emulator, faults
from iis_lab.errors import LabProtocolError
from iis_lab.ops import OPERATIONS
from iis_lab.state import LAB_ACCOUNT, kept_script_path, read_state

HOST = "web01"
OPERATION = "read_host_state"


@pytest.fixture(autouse=True)
def lab_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IIS_LAB_STATE_DIR", str(tmp_path))
    return tmp_path


def deflated(text: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(text) + compressor.flush())


def payload(operation: str = OPERATION, script: str | None = None, params: dict[str, object] | None = None,
            digest: str | None = None) -> bytes:
    """A sending call, as HostOperationRunner builds it, with any part replaced."""
    text = host_ops.cached_script(operation if operation in host_ops.operation_names() else OPERATION) if script is None else script
    lines = [
        host_ops.SENDING_LOADER.encode("ascii"),
        (digest or hashlib.sha256(text.encode("ascii")).hexdigest()).encode("ascii"),
        host_ops.encode_params(params if params is not None else {"sections": ["windows"]}),
        deflated(text.encode("ascii")),
    ]
    return b"\n".join(lines)


def cached_call(operation: str = OPERATION, params: dict[str, object] | None = None) -> bytes:
    return host_ops.encode_call(operation, params if params is not None else {"sections": ["windows"]}, send_script=False)


def execute(cmd: str | None = None, in_data: bytes | None = None, account: str = LAB_ACCOUNT) -> tuple[int, bytes, bytes]:
    command = host_ops.bootstrap_command() if cmd is None else cmd
    return emulator.execute(HOST, {}, {}, command, payload() if in_data is None else in_data, account=account)


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def test_every_script_has_an_emulation_and_every_emulation_a_script() -> None:
    scripts = set(host_ops.operation_names())
    emulations = set(OPERATIONS)
    assert scripts, "no operation scripts found"
    assert scripts - emulations == set(), f"scripts without a lab emulation (add tests/lab/iis_lab/ops/<op>.py): {sorted(scripts - emulations)}"
    assert emulations - scripts == set(), f"lab emulations without a shipped script: {sorted(emulations - scripts)}"


def test_the_shipped_call_is_answered_and_logged(lab_state: Path) -> None:
    rc, stdout, stderr = execute()
    answer = json.loads(stdout)
    assert (rc, stderr) == (0, b"")
    assert answer["ok"] is True
    assert answer["result"]["windows"]["build"] > 0
    assert [entry["operation"] for entry in read_state(HOST, lab_state)["oplog"]] == [OPERATION]


def test_the_answer_is_what_the_runner_decodes() -> None:
    rc, stdout, stderr = execute()
    result = host_ops.decode_answer(OPERATION, HOST, rc, stdout, stderr)
    assert set(result) == {"windows"}


def test_unknown_operation_is_refused(lab_state: Path) -> None:
    with pytest.raises(LabProtocolError, match="not a shipped operation's"):
        execute(in_data=payload(script="Format-Volume -DriveLetter C\n"))
    assert not (lab_state / f"{HOST}.json").exists(), "a refused call must not touch the host"


def test_modified_script_is_refused() -> None:
    script = host_ops.cached_script(OPERATION) + "\nRemove-Item -LiteralPath C:\\ -Recurse\n"
    with pytest.raises(LabProtocolError, match="not a shipped operation's"):
        execute(in_data=payload(script=script))


def test_bare_operation_script_without_the_answer_logic_is_refused() -> None:
    # The host runs what it is sent; only the whole cached_script (answer logic, library, script) is an iis.ccs call.
    with pytest.raises(LabProtocolError, match="not a shipped operation's"):
        execute(in_data=payload(script=host_ops.wire_script(OPERATION)))


@pytest.mark.parametrize(
    "cmd",
    [
        pytest.param("PowerShell -NoProfile -NonInteractive -Command Get-Date", id="plain-command"),
        pytest.param(host_ops.bootstrap_command().replace("-NonInteractive ", ""), id="interactive"),
        pytest.param(host_ops.bootstrap_command() + " -Extra", id="extra-argument"),
        pytest.param(host_ops.bootstrap_command().rsplit(" ", 1)[0] + " " + encoded("Get-Date"), id="other-encoded-script"),
        pytest.param(host_ops.bootstrap_command().rsplit(" ", 1)[0] + " " + encoded(host_ops.LAUNCHER + "\nRemove-Item C:\\"), id="bootstrap-plus-more"),
    ],
)
def test_non_bootstrap_command_line_is_refused(cmd: str) -> None:
    with pytest.raises(LabProtocolError):
        execute(cmd=cmd)


def test_non_ascii_stdin_is_refused() -> None:
    params = json.dumps({"site_names": ["b\u00fccher"]}, ensure_ascii=False).encode("utf-8")
    lines = payload().split(b"\n")
    with pytest.raises(LabProtocolError, match="not ASCII"):
        execute(in_data=b"\n".join(lines[:2] + [params] + lines[3:]))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    with pytest.raises(LabProtocolError, match="not ASCII"):
        execute(in_data=b"\n".join(lines[:2] + [base64.b64encode(compressor.compress(params) + compressor.flush())] + lines[3:]))


def test_stdin_is_decoded_as_the_loaders_do() -> None:
    # The loaders read base64 and inflate it with DeflateStream (raw DEFLATE): plain JSON, or zlib's
    # header-and-checksum format, would make [Convert]::FromBase64String or DeflateStream throw on the host.
    lines = payload().split(b"\n")
    plain = json.dumps({"sections": ["windows"]}).encode("ascii")
    for wrong in (plain, base64.b64encode(zlib.compress(plain))):
        with pytest.raises(LabProtocolError, match="raw DEFLATE"):
            execute(in_data=b"\n".join(lines[:2] + [wrong] + lines[3:]))
    with pytest.raises(LabProtocolError, match="raw DEFLATE"):
        execute(in_data=b"\n".join(lines[:3] + [base64.b64encode(zlib.compress(host_ops.cached_script(OPERATION).encode("ascii")))]))
    assert "DeflateStream" in host_ops.SENDING_LOADER and "FromBase64String" in host_ops.SENDING_LOADER
    assert len(lines[3]) < len(host_ops.cached_script(OPERATION)) * 0.6  # the script compresses well, base64 included


@pytest.mark.parametrize("first_line", [b"", b"Get-Date", host_ops.SENDING_LOADER.encode("ascii") + b";Remove-Item C:\\"], ids=["none", "other", "more"])
def test_stdin_whose_first_line_is_not_a_loader_is_refused(first_line: bytes) -> None:
    # The launcher runs stdin's first line as it is: anything but a loader is not an iis.ccs call.
    rest = payload().split(b"\n", 1)[1]
    with pytest.raises(LabProtocolError, match="loader line"):
        execute(in_data=first_line + b"\n" + rest)
    with pytest.raises(LabProtocolError, match="loader line"):
        execute(in_data=rest)


def test_a_loader_with_the_wrong_number_of_lines_is_refused() -> None:
    sending, cached = payload().split(b"\n"), cached_call().split(b"\n")
    with pytest.raises(LabProtocolError, match="this loader reads 4"):
        execute(in_data=b"\n".join(sending[:3]))
    with pytest.raises(LabProtocolError, match="this loader reads 3"):
        execute(in_data=b"\n".join(cached + sending[3:]))


def test_escaped_non_ascii_stdin_is_accepted() -> None:
    rc, stdout, stderr = execute(in_data=payload(params={"sections": ["sites"], "site_names": ["b\u00fccher"]}))
    assert (rc, stderr) == (0, b"")
    assert json.loads(stdout)["ok"] is True


def test_empty_stdin_is_refused() -> None:
    with pytest.raises(LabProtocolError, match="no payload"):
        emulator.execute(HOST, {}, {}, host_ops.bootstrap_command(), b"")


def test_script_without_emulation_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(OPERATIONS, OPERATION)
    with pytest.raises(LabProtocolError, match="no emulation"):
        execute()


def test_emulator_rejects_modified_shared_functions() -> None:
    library = host_ops.wire_library(OPERATION)
    script = host_ops.cached_script(OPERATION).replace(library, library + "\nfunction Get-Date { 'tampered' }")
    with pytest.raises(LabProtocolError, match="not a shipped operation's"):
        execute(in_data=payload(script=script))


# -- the script cache: the host runs a kept script only when its bytes hash to the digest asked for --

def kept_script(lab_state: Path, operation: str = OPERATION) -> Path:
    path = kept_script_path(HOST, LAB_ACCOUNT, host_ops.script_digest(operation))
    assert path.is_relative_to(lab_state)
    return path


def answer_of(in_data: bytes, account: str = LAB_ACCOUNT) -> dict[str, t.Any]:
    rc, stdout, stderr = execute(in_data=in_data, account=account)
    assert (rc, stderr) == (0, b"")
    return t.cast(dict[str, t.Any], json.loads(stdout))


def test_a_cached_call_to_a_host_that_holds_nothing_is_a_miss_and_runs_nothing(lab_state: Path) -> None:
    assert answer_of(cached_call()) == {"ok": False, "error": {"type": host_ops.CACHE_MISS_ERROR, "message": ""}}
    assert read_state(HOST, lab_state)["oplog"] == []


def test_a_sending_call_runs_and_keeps_the_script_for_the_next_cached_call(lab_state: Path) -> None:
    assert answer_of(payload())["ok"] is True
    assert kept_script(lab_state).read_bytes() == host_ops.cached_script(OPERATION).encode("ascii")
    assert answer_of(cached_call())["result"]["windows"]["build"] > 0
    assert [entry["operation"] for entry in read_state(HOST, lab_state)["oplog"]] == [OPERATION, OPERATION]


def test_each_account_keeps_scripts_in_its_own_temporary_folder(lab_state: Path) -> None:
    """[IO.Path]::GetTempPath() is per account on Windows: a script kept for one account is a miss for another
    (one more round trip, nothing run), and names compare case-insensitively. A lab with one folder per host
    was kinder than Windows: a second account found the first one's scripts."""
    assert answer_of(payload(), account="LAB\\ansible")["ok"] is True
    assert answer_of(cached_call(), account="lab\\ANSIBLE")["ok"] is True
    assert answer_of(cached_call(), account="ansible@lab.test")["ok"] is True  # a UPN names the same profile
    miss = {"ok": False, "error": {"type": host_ops.CACHE_MISS_ERROR, "message": ""}}
    assert answer_of(cached_call(), account="LAB\\svc-deploy") == miss
    assert len(read_state(HOST, lab_state)["oplog"]) == 3
    assert answer_of(payload(), account="LAB\\svc-deploy")["ok"] is True
    assert answer_of(cached_call(), account="LAB\\svc-deploy")["ok"] is True
    assert kept_script_path(HOST, "LAB\\svc-deploy", host_ops.script_digest(OPERATION)).parent != kept_script(lab_state).parent


@pytest.mark.parametrize("damage", ["truncated", "planted", "other-operation"])
def test_a_kept_script_whose_bytes_changed_is_never_run(lab_state: Path, damage: str) -> None:
    answer_of(payload())
    kept = kept_script(lab_state)
    original = kept.read_bytes()
    replacement = {
        "truncated": original[:-40],
        "planted": original.replace(b"$ErrorActionPreference='Stop'", b"Remove-Item C:\\ -Recurse;$ErrorActionPreference='Stop'"),
        "other-operation": host_ops.cached_script("read_store_acl").encode("ascii"),
    }[damage]
    kept.write_bytes(replacement)
    assert answer_of(cached_call())["error"]["type"] == host_ops.CACHE_MISS_ERROR
    assert len(read_state(HOST, lab_state)["oplog"]) == 1


def test_a_digest_that_is_not_hex_never_becomes_a_path(lab_state: Path) -> None:
    answer_of(payload())
    call = cached_call().split(b"\n")
    for digest in (b"..\\..\\" + call[1][6:], call[1] + b"0", b""):
        assert answer_of(b"\n".join([call[0], digest, call[2]]))["error"]["type"] == host_ops.CACHE_MISS_ERROR
    # A sending call with such a digest still runs what it sent, and keeps nothing.
    assert answer_of(payload(digest="../" + "0" * 61))["ok"] is True
    assert sorted(p.name for p in kept_script(lab_state).parent.iterdir()) == [kept_script(lab_state).name]


def test_a_restricted_language_mode_is_refused_before_the_cache_is_read(lab_state: Path) -> None:
    _rc, stdout, _stderr = emulator.execute(HOST, {"language_mode": "ConstrainedLanguage"}, {}, host_ops.bootstrap_command(), cached_call())
    assert json.loads(stdout)["error"] == {"message": "ConstrainedLanguage", "type": host_ops.LANGUAGE_MODE_ERROR}


def test_a_temporary_folder_that_keeps_nothing_still_runs_every_sending_call(lab_state: Path) -> None:
    faults.set_faults(script_cache_unwritable=[HOST])
    try:
        assert answer_of(payload())["ok"] is True
        assert not kept_script(lab_state).exists()
        assert answer_of(cached_call())["error"]["type"] == host_ops.CACHE_MISS_ERROR
        runner = HostOperationRunner(LabConnection(), HOST)
        builds = [runner.run(OPERATION, {"sections": ["windows"]})["windows"]["build"] for attempt in range(2)]
        assert all(build > 0 for build in builds)
        assert (runner.round_trips, runner.script_sends) == (4, 2)
    finally:
        faults.set_faults()
    runner = HostOperationRunner(LabConnection(), HOST)
    runner.run(OPERATION, {"sections": ["windows"]})
    runner.run(OPERATION, {"sections": ["windows"]})
    assert (runner.round_trips, runner.script_sends) == (3, 1)


class LabConnection:
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        return emulator.execute(HOST, {}, {}, cmd, in_data)
