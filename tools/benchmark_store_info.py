#!/usr/bin/env python
"""Benchmark ccs_store_info on a store of 1,000 files (not a timed test).

Publishes N certificates with M host names each (default 250 x 4 = 1,000 files) with ccs_cert_publish
into a controller folder, copies the store onto a real Samba share on loopback, then times, in
interleaved repetitions, for each back end:
  floor: one listing, reading every file, and opening each distinct PFX once with cryptography
         (the least any tool that looks inside every file must do);
  audit: the whole ccs_store_info task logic (read, open, facts, drift, findings, summary).
Prints the medians and the ratio audit / floor.

    tools/benchmark_store_info.py [--certificates 250] [--names 4] [--repetitions 5] [--json]

Needs smbd for the smb back end (Debian/Ubuntu: apt-get install samba); without it only the local folder runs.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "smb"))
sys.path.insert(0, str(REPO / "tests"))

import conftest as _collection_link  # noqa: E402,F401  (makes ansible_collections.iis.ccs importable)

sys.path.insert(0, str(REPO / "tests" / "unit" / "plugin_utils" / "_audit"))
from _samba import SambaServer, SambaUnavailable, find_smbd  # noqa: E402
from audit_helpers import STORE_PASSWORD, Ca, context, publish, validated  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402

from ansible_collections.iis.ccs.plugins.module_utils._argspecs import CCS_STORE_INFO  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._audit.task import run_store_info  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import FileSystem, LocalFileSystem  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._store.smb import SmbFileSystem  # noqa: E402


def build_store(folder: Path, certificates: int, names: int) -> None:
    ca = Ca()
    folder.mkdir(parents=True)
    for index in range(certificates):
        hosts = [f"h{n}.site{index:04d}.bench.test" for n in range(names)]
        publish(ca.leaf(*hosts, days=90 + index % 200), hosts, folder)


def floor(fs: FileSystem) -> int:
    """One listing, every file read, each distinct content opened once."""
    opened: set[str] = set()
    for name in fs.list():
        data = fs.read(name)
        if data is None or not name.lower().endswith(".pfx"):
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest not in opened:
            pkcs12.load_key_and_certificates(data, STORE_PASSWORD.encode())
            opened.add(digest)
    close = getattr(fs, "close", None)
    if close:
        close()
    return len(opened)


def audit(destination: dict[str, t.Any]) -> dict[str, t.Any]:
    params = validated(CCS_STORE_INFO, {"destinations": [destination], "private_key_password": STORE_PASSWORD})
    return run_store_info(context(params), HostOperationRunner(None, "localhost"))  # type: ignore[arg-type]


def timed(func: t.Callable[[], t.Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=250)
    parser.add_argument("--names", type=int, default=4)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="iis-ccs-bench-store-", dir=REPO / "tests" / "output"))
    server: SambaServer | None = None
    try:
        store = work / "store"
        build_store(store, options.certificates, options.names)
        files = sum(1 for p in store.iterdir() if p.suffix == ".pfx")
        backends: dict[str, tuple[t.Callable[[], FileSystem], dict[str, t.Any]]] = {
            "local": (lambda: LocalFileSystem(str(store)), {"type": "local", "path": str(store), "name": "local"}),
        }
        if find_smbd():
            try:
                server = SambaServer(work / "samba").setup()
                server.start()
            except SambaUnavailable as exc:
                print(f"smb back end skipped: {exc}", file=sys.stderr)
                server = None
        if server is not None:
            for path in store.iterdir():
                shutil.copy2(path, server.local_dir / path.name)
            smb = server.destination(name="smb")
            backends["smb"] = (
                lambda: SmbFileSystem(smb["path"], user_name=smb.get("user_name"), password=smb.get("password"), port=int(smb["port"]), encrypt=True),
                smb,
            )
        samples: dict[str, dict[str, list[float]]] = {name: {"floor": [], "audit": []} for name in backends}
        for _repetition in range(options.repetitions):
            for name, (make_fs, destination) in backends.items():
                samples[name]["floor"].append(timed(functools.partial(lambda make: floor(make()), make_fs)))
                result: dict[str, t.Any] = {}
                samples[name]["audit"].append(timed(functools.partial(lambda into, where: into.update(audit(where)), result, destination)))
                assert result["summary"]["files"] == files and result["findings"] == [], result["findings"][:3]
        figures = {
            "files": files,
            "distinct_pfx": options.certificates,
            "repetitions": options.repetitions,
            "backends": {
                name: {
                    "floor_median_s": round(statistics.median(s["floor"]), 3),
                    "audit_median_s": round(statistics.median(s["audit"]), 3),
                    "ratio": round(statistics.median(s["audit"]) / statistics.median(s["floor"]), 2),
                }
                for name, s in samples.items()
            },
        }
        if options.json:
            print(json.dumps(figures, indent=2))
        else:
            print(f"{files} files ({options.certificates} distinct PFX x {options.names} names), {options.repetitions} interleaved repetitions")
            for name, row in figures["backends"].items():
                print(f"{name:>6}: floor {row['floor_median_s']:7.3f} s   ccs_store_info {row['audit_median_s']:7.3f} s   ratio {row['ratio']:.2f}")
        return 0
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
