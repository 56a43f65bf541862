#!/usr/bin/env python
"""Benchmark the SMB store's whole-file steps against a real Samba share on loopback (not a timed test).

Writes N files of 3,200 bytes (about an RSA-2048 PFX with its chain) into one encrypted share and reads each back,
the way ccs_cert_publish commits a PFX file (temporary file, rename over the name, read-back), in interleaved rounds:

  floor          smbclient puts the same files in one session (no rename, no read-back);
  step-by-step   smbclient's documented functions, one request per step (write_via_temp, read_back);
  compound       SmbFileSystem.write_atomic + read_verified: three compound requests per file, one file at a time;
  compound xK    the same, K files at once on the one session;
  verified xK    SmbFileSystem.write_verified, what FolderStore does per PFX file: the read-back travels with the
                 rename (two compound requests per file), K files at once (FolderStore uses 4).

Prints the median of each, per file, and the ratio to the floor. Starts smbd itself (Debian/Ubuntu: apt-get
install samba smbclient) with everything under tests/output.

    tools/benchmark_smb_steps.py [--files 400] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
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
sys.path.insert(0, str(REPO / "tools"))

import conftest as _collection_link  # noqa: E402,F401  (makes ansible_collections.iis.ccs importable)
from _samba import SambaServer  # noqa: E402
from benchmark_publish import smbclient_floor  # noqa: E402

from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import read_back, write_via_temp  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._store.smb import SmbFileSystem  # noqa: E402

Step = t.Callable[[SmbFileSystem, str, bytes], object]


def step_by_step(fs: SmbFileSystem, name: str, data: bytes) -> object:
    write_via_temp(fs, name, data)
    return read_back(fs, name, data)


def compound(fs: SmbFileSystem, name: str, data: bytes) -> object:
    fs.write_atomic(name, data)
    return fs.read_verified(name, data)


def verified(fs: SmbFileSystem, name: str, data: bytes) -> object:
    return fs.write_verified(name, data)


def timed(fs: SmbFileSystem, step: Step, files: t.Mapping[str, bytes], workers: int) -> float:
    began = time.perf_counter()
    if workers == 1:
        for name, data in files.items():
            step(fs, name, data)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda item: step(fs, *item), files.items()))
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    output = REPO / "tests" / "output"
    output.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="benchmark-smb-steps-", dir=output))
    server = SambaServer(work / "samba").setup()
    runs: dict[str, list[float]] = {
        "floor": [], "step-by-step": [], "compound": [], "compound x4": [], "compound x8": [], "verified x4": [], "verified x8": [],
    }
    load_before = os.getloadavg()[0]
    try:
        server.start()
        local = work / "files"
        local.mkdir()
        files = {f"file{index:05d}.pfx": os.urandom(3200) for index in range(options.files)}
        for name, data in files.items():
            (local / name).write_bytes(data)
        destination = server.destination()
        fs = SmbFileSystem(destination["path"], user_name=destination["user_name"], password=destination["password"], port=destination["port"], encrypt=True)
        fs.write_atomic("logon.pfx", b"the session's logon is not a step's cost")
        ways: dict[str, tuple[Step, int]] = {
            "step-by-step": (step_by_step, 1), "compound": (compound, 1), "compound x4": (compound, 4), "compound x8": (compound, 8),
            "verified x4": (verified, 4), "verified x8": (verified, 8),
        }
        for _round in range(options.repeat):
            runs["floor"].append(smbclient_floor(server, local))
            for label, (step, workers) in ways.items():
                runs[label].append(timed(fs, step, files, workers))
        fs.close()
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    floor = statistics.median(runs["floor"])
    figures = {
        "files": options.files,
        "rounds": options.repeat,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "runs": {label: {"seconds": round(statistics.median(times), 2), "ms_per_file": round(statistics.median(times) / options.files * 1000, 2),
                         "vs_floor": round(statistics.median(times) / floor, 1)} for label, times in runs.items()},
    }
    if options.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{options.files} files of 3,200 bytes, median of {options.repeat} interleaved round(s); load average {figures['load_average'][0]} before, "
          f"{figures['load_average'][1]} after")
    print("| way | wall | per file | vs smbclient |\n|---|---:|---:|---:|")
    for label, run in figures["runs"].items():
        print(f"| {label} | {run['seconds']} s | {run['ms_per_file']} ms | {run['vs_floor']}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
