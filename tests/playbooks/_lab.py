"""Helpers for playbook tests: real ansible-playbook and ansible-runner runs against fresh emulated hosts.

Every run goes through one of two transports, so one suite covers both:

- ``plugin``: the lab's iis_lab connection plugin hands exec_command to the emulator in-process;
- ``winrm``: ansible-core's own winrm connection (pywinrm, NTLM over HTTP with message
  encryption) talks to the lab's WinRM endpoints (tests/lab/winrm-lab), one per test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import yaml
from iis_lab.inventory import bypass_proxy
from iis_lab.state import read_oplog, read_state

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "tests" / "lab"
BIN = Path(sys.executable).parent
# IIS_LAB_TRANSPORTS=winrm (tools/test on the oldest ansible-core) narrows the suite to one transport.
TRANSPORTS = tuple(os.environ.get("IIS_LAB_TRANSPORTS", "plugin,winrm").split(","))


def require_tool(name: str) -> Path:
    """A command of the test venv; missing, it fails, unless this run leaves it out on purpose (tools/test says why)."""
    import pytest

    path = BIN / name
    if not path.exists():
        if name not in os.environ.get("IIS_CCS_WITHOUT_TOOLS", "").split(","):
            pytest.fail(f"{name} is not installed in {BIN.parent} (tests/requirements.txt); only tools/test's oldest run may leave it out")
        pytest.skip(f"{name}: left out of this run on purpose (IIS_CCS_WITHOUT_TOOLS, see tools/test)")
    return path


@dataclasses.dataclass(frozen=True)
class RunnerJob:
    """One ansible-runner job: "no secret in the artifacts" means something only if the job really ran."""

    text: str  # stdout and every artifact file
    status: str
    rc: int
    events: list[dict[str, t.Any]]

    def count(self, event: str, host: str | None = None) -> int:
        return sum(1 for e in self.events if e.get("event") == event and (host is None or (e.get("event_data") or {}).get("host") == host))

    def stats(self) -> dict[str, dict[str, int]]:
        """The play recap by host: {"web01": {"ok": 3, "changed": 1, "failures": 0, ...}}."""
        data = next(e["event_data"] for e in self.events if e.get("event") == "playbook_on_stats")
        keys = ("ok", "changed", "failures", "ignored", "dark", "skipped")
        hosts = {h for key in keys for h in data.get(key) or {}}
        return {h: {key: int((data.get(key) or {}).get(h, 0)) for key in keys} for h in hosts}

    def assert_succeeded(self, ok: t.Mapping[str, int], ignored: t.Mapping[str, int] | None = None) -> None:
        """The job succeeded, and each host ran exactly that many tasks ok (and that many failed but ignored)."""
        assert (self.status, self.rc) == ("successful", 0), self.text[-4000:]
        stats = self.stats()
        for host, count in ok.items():
            failed = (ignored or {}).get(host, 0)
            events = (self.count("runner_on_ok", host), self.count("runner_on_failed", host))
            assert events == (count, failed), (host, events, stats.get(host))
            # The recap counts an ignored failure as ok too.
            assert (stats[host]["ok"], stats[host]["ignored"]) == (count + failed, failed), (host, stats[host])
            assert stats[host]["failures"] == stats[host]["dark"] == 0, (host, stats[host])


@dataclasses.dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    results: list[dict[str, t.Any]]

    def task(self, name: str, host: str | None = None) -> dict[str, t.Any]:
        """The result of the last task called name (on host, when given)."""
        matches = [r for r in self.results if r["task"] == name and (host is None or r["host"] == host)]
        if not matches:
            raise AssertionError(f"no result for task {name!r} on {host or 'any host'}; output:\n{self.stdout[-4000:]}")
        return t.cast(dict[str, t.Any], matches[-1]["result"])

    def statuses(self, name: str) -> dict[str, str]:
        return {r["host"]: r["status"] for r in self.results if r["task"] == name}


@dataclasses.dataclass
class Lab:
    root: Path
    transport: str = "plugin"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    def env(self, extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            IIS_LAB_STATE_DIR=str(self.state_dir),
            ANSIBLE_CONFIG=str(LAB / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            **bypass_proxy(env),
        )
        env.update(extra or {})
        return env

    # -- WinRM transport -----------------------------------------------------
    def inventory_for_run(self, inventory: Path | None) -> Path:
        """The inventory as this lab's transport reaches it (for winrm: converted, endpoints running)."""
        source = inventory or LAB / "inventory.yml"
        if self.transport == "plugin":
            return source
        from iis_lab.inventory import load, to_winrm, write_lab_hosts
        from iis_lab.winrm_lab import read_endpoints

        data = load(source)
        os.environ["IIS_LAB_STATE_DIR"] = str(self.state_dir)
        hosts = write_lab_hosts(data)
        endpoints = read_endpoints()
        if not endpoints or not set(hosts) <= set(endpoints["hosts"]):
            self.winrm_lab("start")
            endpoints = read_endpoints()
            assert endpoints, "winrm-lab start returned but its endpoints are not running"
        path = self.root / f"inventory-winrm-{len(list(self.root.glob('inventory-winrm-*.yml')))}.yml"
        path.write_text(yaml.safe_dump(to_winrm(data, endpoints["hosts"], endpoints["http_port"]), sort_keys=False), encoding="utf-8")
        return path

    def winrm_lab(self, *args: str) -> subprocess.CompletedProcess[str]:
        """tests/lab/winrm-lab, for this lab's state folder, on the Python running the tests."""
        env = self.env({"IIS_LAB_PYTHON": sys.executable, "IIS_LAB_WINRM_HTTP_PORT": "0", "IIS_LAB_WINRM_HTTPS_PORT": "0"})
        proc = subprocess.run([str(LAB / "winrm-lab"), *args], capture_output=True, text=True, env=env, timeout=120, check=False)
        assert proc.returncode == 0 or args == ("status",), f"winrm-lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def traffic(self) -> list[dict[str, t.Any]]:
        """Every HTTP exchange the WinRM endpoints served, in order."""
        path = self.state_dir / "winrm" / "traffic.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []

    def set_faults(self, **faults: t.Any) -> None:
        """Inject lab faults (tests/lab/iis_lab/faults.py); no arguments clears them."""
        from iis_lab.faults import set_faults

        os.environ["IIS_LAB_STATE_DIR"] = str(self.state_dir)
        set_faults(**faults)

    def run(self, playbook: str | Path, *, inventory: Path | None = None, extra_vars: t.Mapping[str, t.Any] | None = None,
            check: bool = False, diff: bool = False, verbosity: int = 0, limit: str | None = None,
            env: t.Mapping[str, str] | None = None) -> PlaybookRun:
        if isinstance(playbook, str) and "\n" in playbook:
            path = self.root / f"playbook-{len(list(self.root.glob('playbook-*.yml')))}.yml"
            path.write_text(playbook, encoding="utf-8")
            playbook = path
        results_file = self.root / "results.jsonl"
        results_file.unlink(missing_ok=True)
        args = [str(BIN / "ansible-playbook"), "-i", str(self.inventory_for_run(inventory)), str(playbook)]
        if extra_vars:
            # A file, not an argument: Linux caps one argument at 128 KiB and tests pass large lists.
            vars_file = self.root / "extra-vars.json"
            vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
            args += ["-e", f"@{vars_file}"]
        if check:
            args.append("--check")
        if diff:
            args.append("--diff")
        if verbosity:
            args.append("-" + "v" * verbosity)
        if limit:
            args += ["--limit", limit]
        proc = subprocess.run(args, capture_output=True, text=True, env=self.env({"IIS_LAB_RESULTS_FILE": str(results_file), **(env or {})}),
                              cwd=str(self.root), timeout=600, check=False)
        results = [json.loads(line) for line in results_file.read_text(encoding="utf-8").splitlines()] if results_file.exists() else []
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, results)

    def run_runner(self, playbook: str, *, extra_vars: t.Mapping[str, t.Any] | None = None, verbosity: int = 4,
                   inventory: Path | None = None, env: t.Mapping[str, str] | None = None) -> RunnerJob:
        """Run a playbook through ansible-runner, the way AWX does: its status, job events, output and artifacts."""
        import ansible_runner

        private = self.root / f"runner-{len(list(self.root.glob('runner-*')))}"
        (private / "project").mkdir(parents=True)
        (private / "inventory").mkdir()
        (private / "project" / "playbook.yml").write_text(playbook, encoding="utf-8")
        (private / "inventory" / "hosts.yml").write_text(self.inventory_for_run(inventory).read_text(encoding="utf-8"), encoding="utf-8")
        runner_env = {k: v for k, v in self.env().items() if k.startswith(("ANSIBLE_", "IIS_LAB_")) or k in ("PATH", "HOME")}
        runner_env["ANSIBLE_CALLBACK_PLUGINS"] = str(LAB / "callback_plugins")
        runner_env["ANSIBLE_CONNECTION_PLUGINS"] = str(LAB / "connection_plugins")
        runner = ansible_runner.run(private_data_dir=str(private), playbook="playbook.yml", extravars=dict(extra_vars or {}),
                                    verbosity=verbosity, envvars={**runner_env, **(env or {})}, quiet=True)
        texts = [runner.stdout.read()]
        for path in sorted((private / "artifacts").rglob("*")):
            if path.is_file():
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
        return RunnerJob("\n".join(texts), str(runner.status), int(runner.rc), list(runner.events))

    def host_state(self, host: str) -> dict[str, t.Any]:
        """The host's state file with its operation log under "oplog"."""
        return read_state(host, self.state_dir)

    def oplog(self, host: str) -> list[dict[str, t.Any]]:
        return read_oplog(host, self.state_dir)

    def snapshot(self) -> dict[str, bytes]:
        """Every byte of lab state except operation logs, for 'check mode changed nothing' assertions."""
        files: dict[str, bytes] = {}
        for path in self.host_state_files():
            if not path.name.endswith((".lock", ".oplog.jsonl")):
                data = path.read_bytes()
                if path.suffix == ".json" and path.parent == self.state_dir:
                    data = json.dumps(json.loads(data), sort_keys=True).encode()
                files[str(path.relative_to(self.state_dir))] = data
        return files

    def host_state_files(self) -> list[Path]:
        """What the emulated hosts keep, without the lab's own bookkeeping (WinRM and TLS endpoints, host definitions, faults)."""
        return [path for path in sorted(self.state_dir.rglob("*"))
                if path.is_file() and path.relative_to(self.state_dir).parts[0] not in ("winrm", "tls", "lab-hosts.json", "faults.json")]

    def set_offline(self, *hosts: str) -> None:
        from iis_lab.network import set_offline_hosts

        os.environ["IIS_LAB_STATE_DIR"] = str(self.state_dir)
        set_offline_hosts(hosts)


def assert_secrets_absent(text: str, secrets: t.Iterable[str]) -> None:
    """Fail naming which canary secret leaked, and where (without printing the whole output)."""
    for secret in secrets:
        index = text.find(secret)
        assert index == -1, f"canary secret {secret[:3]}... leaked near: {text[max(0, index - 200):index]!r}"
