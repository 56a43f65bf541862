"""Unit tests of the host operation runner: what goes over the wire, and how answers are read back."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import typing as t

import pytest

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationError, HostOperationRunner

OPERATION = "read_host_state"
NON_ASCII = "b\u00fccher.example \u4e2d\u6587 \U0001f512 \\\\srv\\share\\\u00e9t\u00e9"


class RecordingConnection:
    """Stands in for a winrm/psrp connection: records what it was sent, answers with canned bytes."""

    def __init__(self, stdout: bytes = b'{"ok":true,"result":{}}\r\n', stderr: bytes = b"", rc: int = 0) -> None:
        self.answer = (rc, stdout, stderr)
        self.calls: list[tuple[str, bytes | None, bool]] = []

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        self.calls.append((cmd, in_data, sudoable))
        return self.answer


def powershell_answer(answer: t.Mapping[str, t.Any]) -> bytes:
    """What the bootstrap prints: compact JSON with every non-ASCII character as a \\uXXXX escape."""
    return (json.dumps(answer, ensure_ascii=True, separators=(",", ":")) + "\r\n").encode("ascii")


def clixml(*lines: str) -> bytes:
    escaped = "".join(f'<S S="Error">{line.replace("_", "_x005F_")}_x000D__x000A_</S>' for line in lines)
    return ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">' + escaped + "</Objs>").encode("utf-8")


# --- the command line ---------------------------------------------------------------------------------


def test_command_line_is_identical_for_every_operation_and_parameter() -> None:
    connection = RecordingConnection()
    runner = HostOperationRunner(connection, "web01")
    runner.run(OPERATION, {"sections": ["windows"]})
    runner.run(OPERATION, {"sections": ["provider"], "site_names": ["canary-site-7f3a"]})
    commands = {call[0] for call in connection.calls}
    assert commands == {host_ops.bootstrap_command()}


def test_command_line_is_tiny_and_carries_no_parameter_or_script() -> None:
    connection = RecordingConnection()
    HostOperationRunner(connection, "web01").run(OPERATION, {"site_names": ["canary-param-91b2"]})
    cmd = connection.calls[0][0]
    decoded = base64.b64decode(cmd.split(" ")[-1]).decode("utf-16-le")
    # Far below cmd.exe's 8191 characters; the language-mode check (issue 12) costs about 300 of them.
    assert len(cmd) < 3500
    for text in (cmd, decoded):
        assert "canary-param-91b2" not in text
        assert "read_host_state" not in text
        assert "Read-RegistryKey" not in text  # the operation script travels on stdin, not here


def test_runner_never_asks_for_privilege_escalation() -> None:
    connection = RecordingConnection()
    HostOperationRunner(connection, "web01").run(OPERATION)
    assert connection.calls[0][2] is False


# --- the payload on stdin -----------------------------------------------------------------------------


def test_a_cached_call_sends_the_digest_and_the_parameters_never_the_script() -> None:
    connection = RecordingConnection()
    HostOperationRunner(connection, "web01").run(OPERATION, {"sections": ["windows"]})
    (_cmd, sent, _sudoable), = connection.calls
    assert sent is not None
    sent.decode("ascii")  # raises if anything non-ASCII slipped through
    call = host_ops.decode_call(sent)
    assert (call.loader, call.script) == (host_ops.CACHED_LOADER, None)
    assert call.digest == hashlib.sha256(host_ops.cached_script(OPERATION).encode("ascii")).hexdigest()
    assert json.loads(call.params_json) == {"sections": ["windows"]}
    assert b"Read-RegistryKey" not in sent and len(sent) < 700


def test_the_script_a_host_keeps_is_the_shipped_files_wrapped_in_the_answer_logic() -> None:
    script = host_ops.cached_script(OPERATION)
    library = host_ops.compact_script(host_ops.load_operation_library(OPERATION))
    operation = host_ops.compact_script(host_ops.load_operation_script(OPERATION))
    assert script.index(library) < script.index("$r=@(&{\n" + operation + "\n} $p)[-1]")
    assert script.startswith("$ErrorActionPreference='Stop'\n") and script.endswith(host_ops._SCRIPT_TAIL)
    assert len({host_ops.script_digest(name) for name in host_ops.operation_names()}) == len(host_ops.operation_names())


def test_a_sending_call_is_the_cached_call_plus_the_compressed_script() -> None:
    sending = host_ops.encode_payload(OPERATION, {"sections": ["windows"]})
    cached = host_ops.encode_call(OPERATION, {"sections": ["windows"]}, send_script=False)
    assert sending.split(b"\n")[1:3] == cached.split(b"\n")[1:]
    call = host_ops.decode_call(sending)
    assert call.loader == host_ops.SENDING_LOADER and call.script == host_ops.cached_script(OPERATION).encode("ascii")
    assert all("\n" not in loader for loader in (host_ops.CACHED_LOADER, host_ops.SENDING_LOADER))
    with pytest.raises(ValueError, match="loader line"):
        host_ops.decode_call(b"Get-Date\n" + sending.split(b"\n", 1)[1])


class CachingHost(RecordingConnection):
    """Answers like the loaders: a cached call for a script the host does not hold is a miss; a sending call is kept."""

    def __init__(self, keeps: bool = True) -> None:
        super().__init__()
        self.keeps = keeps
        self.held: set[str] = set()

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        self.calls.append((cmd, in_data, sudoable))
        call = host_ops.decode_call(in_data or b"")
        if call.sends_script:
            if self.keeps:
                self.held.add(call.digest)
            return 0, powershell_answer({"ok": True, "result": {"ran": json.loads(call.params_json)}}), b""
        if call.digest not in self.held:
            return 0, powershell_answer({"ok": False, "error": {"type": host_ops.CACHE_MISS_ERROR, "message": ""}}), b""
        return 0, powershell_answer({"ok": True, "result": {"ran": json.loads(call.params_json)}}), b""


def test_a_host_without_the_script_is_sent_it_once_and_then_named_by_its_digest() -> None:
    host = CachingHost()
    runner = HostOperationRunner(host, "web01")
    assert runner.run(OPERATION, {"n": 1}) == {"ran": {"n": 1}}
    assert runner.run(OPERATION, {"n": 2}) == {"ran": {"n": 2}}
    assert [host_ops.decode_call(call[1] or b"").sends_script for call in host.calls] == [False, True, False]
    assert runner.stats()["round_trips"] == 3 and runner.stats()["script_sends"] == 1
    assert runner.stats()["operations"] == [OPERATION, OPERATION]


def test_after_one_miss_the_tasks_other_operations_go_with_their_script_at_once() -> None:
    host = CachingHost()
    runner = HostOperationRunner(host, "web01")
    for operation in (OPERATION, "apply_bindings", "apply_bindings", OPERATION):
        runner.run(operation, {})
    sent = [(host_ops.decode_call(call[1] or b"").digest, host_ops.decode_call(call[1] or b"").sends_script) for call in host.calls]
    read, apply = host_ops.script_digest(OPERATION), host_ops.script_digest("apply_bindings")
    assert sent == [(read, False), (read, True), (apply, True), (apply, False), (read, False)]
    assert (runner.round_trips, runner.script_sends) == (5, 2)


def test_a_host_that_holds_the_scripts_is_never_sent_one() -> None:
    host = CachingHost()
    host.held = {host_ops.script_digest(name) for name in host_ops.operation_names()}
    runner = HostOperationRunner(host, "web01")
    for operation in (OPERATION, "apply_bindings"):
        runner.run(operation, {})
    assert (runner.round_trips, runner.script_sends, runner.host_is_new) == (2, 0, False)


def test_a_host_that_cannot_keep_the_script_still_runs_every_call() -> None:
    host = CachingHost(keeps=False)
    runner = HostOperationRunner(host, "web01")
    assert [runner.run(OPERATION, {"n": n}) for n in (1, 2)] == [{"ran": {"n": 1}}, {"ran": {"n": 2}}]
    assert runner.round_trips == 4 and runner.script_sends == 2


def test_only_a_cache_miss_answer_makes_the_runner_send_the_script() -> None:
    # A Windows error of the operation itself is never retried: the operation may have changed something.
    stdout = powershell_answer({"ok": False, "error": {"message": "CacheMiss", "type": "System.IO.IOException"}})
    connection = RecordingConnection(stdout=stdout)
    with pytest.raises(HostOperationError, match="CacheMiss"):
        HostOperationRunner(connection, "web01").run(OPERATION)
    assert len(connection.calls) == 1


def test_compacting_drops_only_comment_lines_blank_lines_and_indentation() -> None:
    text = "# Uses: registry\n\nfunction F {\n    # why\n    $x = 'a # not a comment'  # trailing stays\n}\n"
    assert host_ops.compact_script(text) == "function F {\n$x = 'a # not a comment'  # trailing stays\n}"
    with pytest.raises(ValueError, match="here-strings"):
        host_ops.compact_script("$x = @'\n  data\n'@")


def test_non_ascii_parameters_travel_as_escapes_and_survive() -> None:
    payload = host_ops.encode_payload(OPERATION, {"site_names": [NON_ASCII]})
    assert all(byte < 0x80 for byte in payload)
    text = host_ops.decode_call(payload).params_json.decode("ascii")  # ASCII before compression too
    assert "\\u00fc" in text
    assert json.loads(text)["site_names"] == [NON_ASCII]


def test_several_megabyte_payload_round_trips_and_is_counted() -> None:
    big = base64.b64encode(os.urandom(4 * 1024 * 1024)).decode("ascii") + NON_ASCII  # e.g. a large base64 PFX
    connection = RecordingConnection(stdout=powershell_answer({"ok": True, "result": {"echo": big}}))
    runner = HostOperationRunner(connection, "web01")
    result = runner.run(OPERATION, {"blob": big})
    sent = connection.calls[0][1]
    assert sent is not None and len(sent) > 5 * 1024 * 1024  # base64 hardly compresses
    assert json.loads(host_ops.decode_call(sent).params_json)["blob"] == big
    assert result == {"echo": big}
    assert runner.bytes_sent == len(sent)
    assert runner.bytes_received == len(connection.answer[1])


def test_unknown_operation_is_refused_before_anything_is_sent() -> None:
    connection = RecordingConnection()
    with pytest.raises(ValueError, match="unknown host operation 'format_c_drive'"):
        HostOperationRunner(connection, "web01").run("format_c_drive")
    assert connection.calls == []


def test_operation_names_are_the_shipped_scripts() -> None:
    assert OPERATION in host_ops.operation_names()
    assert all(not name.endswith(".ps1") for name in host_ops.operation_names())


# --- answers ------------------------------------------------------------------------------------------


def test_non_ascii_answer_is_decoded_from_escapes() -> None:
    stdout = powershell_answer({"ok": True, "result": {"sites": [{"name": NON_ASCII}]}})
    assert all(byte < 0x80 for byte in stdout)
    assert host_ops.decode_answer(OPERATION, "web01", 0, stdout, b"") == {"sites": [{"name": NON_ASCII}]}


def test_raw_utf8_answer_is_decoded_too() -> None:
    stdout = json.dumps({"ok": True, "result": NON_ASCII}, ensure_ascii=False).encode("utf-8")
    assert host_ops.decode_answer(OPERATION, "web01", 0, stdout, b"") == NON_ASCII


def test_answer_is_found_after_noise_on_stdout() -> None:
    stdout = b"WARNING: something chatty\r\n{not json\r\n" + powershell_answer({"ok": True, "result": [1, 2]}) + b"\r\n"
    assert host_ops.decode_answer(OPERATION, "web01", 0, stdout, b"") == [1, 2]


def test_windows_error_becomes_host_operation_error_with_message_and_type() -> None:
    stdout = powershell_answer({"ok": False, "error": {"message": "Acc\u00e8s refus\u00e9.", "type": "System.UnauthorizedAccessException"}})
    connection = RecordingConnection(stdout=stdout)
    runner = HostOperationRunner(connection, "web01")
    with pytest.raises(HostOperationError) as caught:
        runner.run(OPERATION)
    error = caught.value
    # What failed for the user first; the internal operation name is kept apart.
    assert str(error) == "Reading the IIS and CCS state failed on host 'web01': Acc\u00e8s refus\u00e9."
    assert error.operation == "read_host_state"
    assert error.error_type == "System.UnauthorizedAccessException"
    assert error.windows_message == "Acc\u00e8s refus\u00e9."
    assert runner.round_trips == 1  # a failed round trip still costs one


def test_error_without_message_is_still_explained() -> None:
    with pytest.raises(HostOperationError, match="unknown error"):
        host_ops.decode_answer(OPERATION, "web01", 0, powershell_answer({"ok": False}), b"")


def test_clixml_stderr_is_turned_into_readable_text() -> None:
    stderr = clixml("Cannot bind parameter 'Path' to the target.", "At line:1 char:1 _x_ & \u00e9")
    with pytest.raises(HostOperationError) as caught:
        host_ops.decode_answer(OPERATION, "web01", 1, b"", stderr)
    message = caught.value.windows_message
    assert message.startswith("no answer from the host (")
    assert "Cannot bind parameter 'Path' to the target.\r\nAt line:1 char:1 _x_ & \u00e9" in message
    assert "CLIXML" not in message and "<S S=" not in message and "_x000D_" not in message


def test_clixml_escaped_astral_character_is_rebuilt() -> None:
    stderr = b'#< CLIXML\r\n<Objs Version="1.1.0.1"><S S="Error">lock _xD83D__xDD12_ &amp; key</S></Objs>'
    with pytest.raises(HostOperationError, match="lock \U0001f512 & key"):
        host_ops.decode_answer(OPERATION, "web01", 1, b"", stderr)


def test_plain_stderr_is_reported_when_there_is_no_answer() -> None:
    with pytest.raises(HostOperationError, match=r"no answer from the host \(The term 'PowerShell' is not recognized\)"):
        host_ops.decode_answer(OPERATION, "web01", 1, b"", b"The term 'PowerShell' is not recognized\r\n")


def test_stdout_tail_is_reported_when_there_is_no_answer_and_no_stderr() -> None:
    with pytest.raises(HostOperationError, match=r"no answer from the host \(Access is denied\.\)"):
        host_ops.decode_answer(OPERATION, "web01", 5, b"Access is denied.\r\n", b"")


def test_exit_code_is_reported_when_the_host_said_nothing() -> None:
    with pytest.raises(HostOperationError, match=r"exit code 255 and no output"):
        host_ops.decode_answer(OPERATION, "web01", 255, b"", b"")


def test_huge_error_output_is_cut_to_its_tail() -> None:
    stderr = b"x" * 100_000 + b"THE END"
    with pytest.raises(HostOperationError) as caught:
        host_ops.decode_answer(OPERATION, "web01", 1, b"", stderr)
    assert caught.value.windows_message.endswith("THE END)")
    assert len(caught.value.windows_message) < 2100


def test_stats_report_what_was_done() -> None:
    connection = RecordingConnection()
    runner = HostOperationRunner(connection, "web01")
    runner.run(OPERATION, {"sections": ["windows"]})
    runner.run(OPERATION, {"sections": ["sites"]})
    stats = runner.stats()
    assert stats["round_trips"] == 2
    assert stats["operations"] == [OPERATION, OPERATION]
    assert stats["bytes_sent"] == sum(len(call[1] or b"") for call in connection.calls)


def test_shared_functions_travel_beside_the_script_and_are_the_declared_files() -> None:
    # read_host_state declares "# Uses: registry, bindings": the shared files are defined in the kept script
    # before the operation's own block, never pasted into the operation's own text.
    assert host_ops.operation_libraries(OPERATION) == ["registry", "bindings"]
    library = host_ops.load_operation_library(OPERATION)
    assert library.startswith("# iis.ccs library: registry")
    assert "function Read-RegistryKey" in library
    assert "function Read-RegistryKey" not in host_ops.load_operation_script(OPERATION)
    kept = host_ops.cached_script(OPERATION)
    assert kept.count("function Read-RegistryKey") == 1
    assert kept.index(host_ops.compact_script(library)) < kept.index("$r=@(&{")


def test_unknown_library_is_refused(monkeypatch) -> None:
    script = host_ops.load_operation_script(OPERATION).replace("# Uses: registry", "# Uses: registry, nowhere")
    monkeypatch.setattr(host_ops, "load_operation_script", lambda operation: script)
    with pytest.raises(ValueError, match="unknown library"):
        host_ops.operation_libraries(OPERATION)


class BrokenConnection:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        raise self.error


def test_a_connection_lost_mid_operation_says_the_operation_may_have_run() -> None:
    import requests

    for error in (ConnectionResetError(104, "Connection reset by peer"),
                  requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed connection'))")):
        runner = HostOperationRunner(BrokenConnection(error), "web01")
        with pytest.raises(host_ops.HostConnectionLost) as caught:
            runner.run("read_host_state", {"sections": ["windows"]})
        assert caught.value.operation == "read_host_state" and caught.value.host == "web01"
        assert "the connection was lost before the host answered" in str(caught.value)
        assert type(error).__name__ in str(caught.value) and "may or may not have completed" in str(caught.value)


def test_other_connection_errors_are_not_mistaken_for_a_lost_connection() -> None:
    # The connection plugin's own failures (AnsibleConnectionFailure: auth, unreachable) pass through unchanged.
    from ansible.errors import AnsibleConnectionFailure

    runner = HostOperationRunner(BrokenConnection(AnsibleConnectionFailure("ntlm: the specified credentials were rejected")), "web01")
    with pytest.raises(AnsibleConnectionFailure, match="credentials were rejected"):
        runner.run("read_host_state", {"sections": ["windows"]})


def test_loaders_and_kept_scripts_parse_as_powershell_and_the_loaders_are_terse() -> None:
    import tree_sitter
    import tree_sitter_pwsh

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))
    scripts = [host_ops.LAUNCHER, host_ops.CACHED_LOADER, host_ops.SENDING_LOADER] + [host_ops.cached_script(n) for n in host_ops.operation_names()]
    for script in scripts:
        assert not parser.parse(script.encode("ascii")).root_node.has_error, script
    # The command line rides on every call as base64 of UTF-16 (8/3 bytes per character): it holds only
    # the launcher; the cached loader (with the language-mode check first) rides on stdin (4/3 bytes per
    # character) on every call, so it is what an unchanged run's bytes are made of.
    assert len(host_ops.bootstrap_command()) < 160
    assert len(host_ops.CACHED_LOADER) < 520 and len(host_ops.SENDING_LOADER) < 600


def test_every_operation_has_a_purpose_users_can_read() -> None:
    assert set(host_ops.OPERATION_PURPOSES) == set(host_ops.operation_names())
