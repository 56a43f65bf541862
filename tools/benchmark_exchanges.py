#!/usr/bin/env python
"""What one WinRM exchange with the lab's endpoints costs in time, measured rather than asserted in a test.

Each WinRM command is four small HTTP exchanges (Command, Send, Receive, Signal) on a kept-alive
connection. The endpoint writes headers and body separately, so without TCP_NODELAY every answer
waits for the client's delayed ACK (about 40 ms on Linux). This starts two lab endpoint sets, one
as shipped and one with Nagle left on (IIS_LAB_TCP_NODELAY=0), and runs the same commands on both,
interleaved, repetition by repetition. It prints the median time of 80 exchanges on each and the
ratio. It also times a Receive on a command that cannot finish (its host's state is locked): the
endpoint answers OperationTimeout after the client's OperationTimeout (1 s here), not at once.

Usage: tools/benchmark_exchanges.py [--reps 5] [--rounds 20] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "tests" / "lab"
sys.path[:0] = [str(REPO / "tests" / "output" / "collections"), str(LAB)]

import winrm  # noqa: E402
from winrm.exceptions import WinRMOperationTimeoutError  # noqa: E402

from ansible_collections.iis.ccs.plugins.plugin_utils._core import host_ops  # noqa: E402
from iis_lab.inventory import bypass_proxy  # noqa: E402

USER, PASSWORD = "LAB\\ansible", "Lab-Ansible-Pa55!"


class Endpoints(contextlib.AbstractContextManager["Endpoints"]):
    """One `winrm-lab start` on free ports with its own state folder; stopped on exit."""

    def __init__(self, root: Path, nodelay: bool) -> None:
        self.state = root / "state"
        self.state.mkdir(parents=True)
        self.env = {**os.environ, "IIS_LAB_STATE_DIR": str(self.state), "IIS_LAB_PYTHON": sys.executable, "IIS_LAB_WINRM_HTTP_PORT": "0",
                    "IIS_LAB_WINRM_HTTPS_PORT": "0", "IIS_LAB_TCP_NODELAY": "1" if nodelay else "0"}

    def __enter__(self) -> Endpoints:
        self._lab("start", "-i", str(LAB / "inventory.yml"))
        self.info = json.loads((self.state / "winrm" / "endpoints.json").read_text(encoding="utf-8"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._lab("stop")

    def _lab(self, *args: str) -> None:
        proc = subprocess.run([str(LAB / "winrm-lab"), *args], capture_output=True, text=True, env=self.env, timeout=60, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"winrm-lab {args[0]} failed:\n{proc.stdout}{proc.stderr}")

    def protocol(self, host: str, **kwargs: t.Any) -> winrm.Protocol:
        url = f"http://{self.info['hosts'][host]}:{self.info['http_port']}/wsman"
        return winrm.Protocol(url, transport="ntlm", username=USER, password=PASSWORD, proxy=None, **kwargs)


def time_exchanges(endpoints: Endpoints, rounds: int) -> float:
    """Seconds for `rounds` commands (4 exchanges each) on one shell."""
    protocol = endpoints.protocol("web01")
    payload = host_ops.encode_payload("read_host_state", {"sections": ["windows"]})
    shell = protocol.open_shell()
    try:
        started = time.perf_counter()
        for _round in range(rounds):
            command_id = protocol.run_command(shell, host_ops.bootstrap_command(), console_mode_stdin=False)
            protocol.send_command_input(shell, command_id, payload, end=True)
            stdout, stderr, rc = protocol.get_command_output(shell, command_id)
            protocol.cleanup_command(shell, command_id)
            host_ops.decode_answer("read_host_state", "web01", rc, stdout, stderr)
        return time.perf_counter() - started
    finally:
        protocol.close_shell(shell)


def time_operation_timeout(endpoints: Endpoints) -> float:
    """Seconds until a Receive on a blocked command answers OperationTimeout (client OperationTimeout: 1 s)."""
    protocol = endpoints.protocol("fs01", operation_timeout_sec=1, read_timeout_sec=5)
    params = {"path": "D:\\CCS", "manifest_name": "manifest.json", "fetch": [], "temp_prefix": ".t", "temp_suffix": ".tmp"}
    shell = protocol.open_shell()
    try:
        with open(endpoints.state / "fs01.json.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            command_id = protocol.run_command(shell, host_ops.bootstrap_command(), console_mode_stdin=False)
            protocol.send_command_input(shell, command_id, host_ops.encode_payload("read_cert_store", params), end=True)
            started = time.perf_counter()
            try:
                protocol.get_command_output_raw(shell, command_id)
            except WinRMOperationTimeoutError:
                return time.perf_counter() - started
            raise RuntimeError("Receive answered before the command could finish")
    finally:
        protocol.close_shell(shell)


def benchmark(reps: int, rounds: int) -> dict[str, t.Any]:
    os.environ.update(bypass_proxy(os.environ))
    with tempfile.TemporaryDirectory(prefix="iis-ccs-bench-exchanges-") as work, \
            Endpoints(Path(work) / "nodelay", nodelay=True) as shipped, Endpoints(Path(work) / "nagle", nodelay=False) as nagle:
        fast, slow, waits = [], [], []
        for _rep in range(reps):  # interleaved: both variants see the same machine load
            fast.append(time_exchanges(shipped, rounds))
            slow.append(time_exchanges(nagle, rounds))
            waits.append(time_operation_timeout(shipped))
    exchanges = 4 * rounds
    return {
        "exchanges_per_run": exchanges,
        "repetitions": reps,
        "median_s_with_tcp_nodelay": round(statistics.median(fast), 4),
        "median_s_without_tcp_nodelay": round(statistics.median(slow), 4),
        "ratio_without_over_with": round(statistics.median(slow) / statistics.median(fast), 2),
        "median_s_until_operation_timeout": round(statistics.median(waits), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    parser.add_argument("--rounds", type=int, default=20, help="commands per run, 4 exchanges each (default 20)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    figures = benchmark(options.reps, options.rounds)
    if options.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{figures['exchanges_per_run']} WinRM exchanges, median of {figures['repetitions']} interleaved runs:")
        print(f"  with TCP_NODELAY (as shipped): {figures['median_s_with_tcp_nodelay']:.3f} s")
        print(f"  without (Nagle on):            {figures['median_s_without_tcp_nodelay']:.3f} s  (x{figures['ratio_without_over_with']})")
        print(f"Receive on a blocked command answers OperationTimeout after {figures['median_s_until_operation_timeout']:.2f} s (client: 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
