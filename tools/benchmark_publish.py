#!/usr/bin/env python
"""Benchmark ccs_cert_publish against a real Samba share on loopback (not a timed test).

Publishes N certificates with M host names each (default 250 x 4 = 1,000 files) to one
smb destination (encrypted, on loopback) and reports time and bytes moved, in interleaved rounds:

  floor            smbclient puts the same 1,000 files into a fresh folder of the share, one session;
  batch_first      one task with every certificate (ccs_cert_publish 'certificates'), empty store;
  batch_unchanged  the same task again: must move no PFX bytes;
  batch_renewal    the same task with --renew certificates replaced by new ones (same names);
then, once (--no-separate skips it), one task per certificate, as a loop over the module does:
  separate_first / separate_unchanged, with the median time per task in the first and last tenth,
  their ratio and the fitted rise over the run (a task must not get slower as the store fills up);
  beside each task, in alternating order, its floor: one smbclient session that puts as many new
  files of the same sizes into a folder growing like the store (first publish), or looks up the
  task's files there (unchanged), so the server's own cost of a bigger folder shows apart.

--store-sizes 10,1000,10000 measures instead one unchanged single-certificate task (M names) in
stores of each size, in interleaved repetitions: its time and bytes, the ratio to the same task in
the smallest store, and a floor: one smbclient session looking up the task's M files. The other
certificates' files and their manifest records are written straight into the share's folder,
exactly as publishing them leaves it (publishing 10,000 files first would take most of an hour).
The task gives host_names, or with --without-host-names it does not (then its file names come from
its certificate); either way a quick load of its PFX tells its thumbprint before the read, and it reads
its records by exact name (README, "Manifest records").
With --new-certificate the task publishes, in each round, a certificate the store does not hold yet
(its files are removed again after the round), against a floor of one smbclient session putting as
many new files of the same sizes into the same folder: the cost of a loop's new certificate as the
store grows, with the server's own cost of a bigger folder in the floor.

    tools/benchmark_publish.py [--certificates 250] [--names 4] [--renew 10] [--repeat 1] [--no-separate] [--json]
    tools/benchmark_publish.py --separate-only [--certificates 250] [--names 4] [--samba-case-sensitive] [--json]
    tools/benchmark_publish.py --store-sizes 10,1000,10000 [--names 4] [--repeat 5] [--without-host-names] [--new-certificate] [--json]

Runs the module's task logic in-process, without ansible-playbook's own start-up cost. Starts
smbd itself (Debian/Ubuntu: apt-get install samba smbclient) with everything under tests/output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "smb"))
sys.path.insert(0, str(REPO / "tests"))

import conftest as _collection_link  # noqa: E402,F401  (makes ansible_collections.iis.ccs importable)
from _publisher import publish  # noqa: E402
from _samba import SambaServer, install_smbclient  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from ansible_collections.iis.ccs.plugins.plugin_utils._store.records import encode_record  # noqa: E402

PFX_PASSWORD = "bench-source"
STORE_PASSWORD = "bench-store"


def make_certificates(folder: Path, count: int, names: int) -> list[Path]:
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iis.ccs benchmark CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=800))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = []
    for index in range(count):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        hosts = [f"h{n}.site{index:04d}.bench.test" for n in range(names)]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        path = folder / f"site{index:04d}.pfx"
        path.write_bytes(pkcs12.serialize_key_and_certificates(b"bench", key, cert, [ca], serialization.BestAvailableEncryption(PFX_PASSWORD.encode())))
        paths.append(path)
    return paths


def task_args(pfx_files: t.Sequence[Path], destination: dict[str, t.Any], *, batch: bool) -> list[dict[str, t.Any]]:
    """The task(s) that publish pfx_files: one task with every certificate, or one task per certificate."""
    shared = {"private_key_password": STORE_PASSWORD, "destinations": [destination]}
    sources = [{"pfx_path": str(path), "pfx_password": PFX_PASSWORD} for path in pfx_files]
    if batch:
        return [dict(shared, certificates=sources)]
    return [dict(shared, **source) for source in sources]


def run_tasks(tasks: t.Sequence[dict[str, t.Any]], floor: t.Callable[[int], float] | None = None) -> dict[str, t.Any]:
    """The tasks one after another; with a floor (seconds of its step for task i), the floor's step beside each
    task, in alternating order, and how both grow with the store (not counted in the tasks' seconds)."""
    totals: dict[str, t.Any] = {
        "seconds": 0.0, "pfx_bytes_read": 0, "pfx_bytes_written": 0, "other_bytes": 0, "files_changed": 0, "failed": 0, "sources_loaded": 0,
    }
    per_task, per_floor = [], []
    elapsed = 0.0
    for index, args in enumerate(tasks):
        if floor is not None and index % 2:
            per_floor.append(floor(index))
        began = time.perf_counter()
        result = publish(args)
        per_task.append(time.perf_counter() - began)
        elapsed += per_task[-1]
        if floor is not None and not index % 2:
            per_floor.append(floor(index))
        replica = result["replicas"][0]
        totals["failed"] += int(bool(result.get("failed")))
        # Sources loaded in full (the rest took the short path: digest, MAC, recorded dates).
        totals["sources_loaded"] += int(result.get("sources_loaded", 0))
        totals["files_changed"] += len(replica["created"]) + len(replica["updated"])
        for key in ("pfx_bytes_read", "pfx_bytes_written", "other_bytes"):
            totals[key] += replica[key]
    totals["seconds"] = round(elapsed, 2)
    if len(per_task) >= 20:
        totals.update(growth(per_task, ""))
        if per_floor:
            totals.update(growth(per_floor, "floor_"))
    return totals


def growth(seconds: t.Sequence[float], prefix: str) -> dict[str, float]:
    """Does a task get slower as the store fills up? Medians of the first and of the last tenth, and the
    rise of the least-squares line through every task, from the first task to the last: it uses all the points,
    so one slow stretch of a busy machine moves it less than it moves a tenth's median."""
    tenth = len(seconds) // 10
    first, last = statistics.median(seconds[:tenth]) * 1000, statistics.median(seconds[-tenth:]) * 1000
    rise = statistics.linear_regression(range(len(seconds)), [value * 1000 for value in seconds]).slope * (len(seconds) - 1)
    return {
        f"{prefix}ms_per_task_first_tenth": round(first, 1),
        f"{prefix}ms_per_task_last_tenth": round(last, 1),
        f"{prefix}last_to_first_tenth": round(last / first, 2),
        f"{prefix}ms_fitted_rise": round(rise, 1),
    }


def clear(folder: Path) -> None:
    for path in folder.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def fill_store(folder: Path, count: int, template: bytes) -> None:
    """``count`` PFX files of other certificates, each with its manifest record, as publishing them leaves a store."""
    for index in range(count):
        name = f"filler{index:05d}.bench.test.pfx"
        path = folder / name
        path.write_bytes(template)
        stat = path.stat()
        entry = {"host_name": name.removesuffix(".pfx"), "thumbprint": f"{index + 1:040X}", "identity": f"{index:032x}", "not_after": "2030-01-01T00:00:00Z",
                 "encryption": "compatible", "key_password": "pbkdf2:" + "0" * 32, "size": stat.st_size, "mtime": stat.st_mtime_ns // 100}
        record, data = encode_record(name, entry)
        (folder / record).write_bytes(data)


def smbclient_lookup(server: SambaServer, folder: str, names: t.Sequence[str]) -> float:
    """The floor of an unchanged task: one smbclient session that looks up the task's own files."""
    return run_smbclient(server, f"cd {folder}; " + "; ".join(f"ls {name}" for name in names), timeout=120)


def run_smbclient(server: SambaServer, command: str, *, timeout: int) -> float:
    """Seconds one smbclient session over the encrypted share takes to run command."""
    args = ["smbclient", f"//{server.host}/{server.share}", "-p", str(server.port), "-U", f"{server.user}%{server.password}",
            "--client-protection=encrypt", "-c", command]
    start = time.perf_counter()
    proc = subprocess.run(args, check=False, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"smbclient failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    return time.perf_counter() - start


def store_sizes(server: SambaServer, work: Path, options: argparse.Namespace) -> dict[str, t.Any]:
    """One single-certificate task in stores of growing size, interleaved with its smbclient floor: unchanged, or
    with --new-certificate the first publish of a certificate the store does not hold yet."""
    if install_smbclient() is None:
        raise SystemExit("smbclient is not installed (Debian/Ubuntu: apt-get install smbclient); it is the floor of this benchmark")
    certs = work / "certs"
    certs.mkdir()
    # With --new-certificate, certificate 0 only sets the stores up (as an earlier publish would) and each round
    # publishes certificate round + 1, whose files are then deleted so the store keeps its size.
    pfx_files = make_certificates(certs, 1 + (options.repeat if options.new_certificate else 0), options.names)
    record_sized = certs / "record-sized.json"
    record_sized.write_bytes(b"x" * 330)
    folders = {}
    for size in options.store_sizes:
        folders[size] = f"store{size}"
        (server.local_dir / folders[size]).mkdir()
        assert not publish(size_task(server, folders[size], pfx_files[0], 0, options)).get("failed")
        fill_store(server.local_dir / folders[size], max(0, size - options.names), pfx_files[0].read_bytes())
    times: dict[int, list[float]] = {size: [] for size in folders}
    floors: dict[int, list[float]] = {size: [] for size in folders}
    traffic: dict[int, dict[str, t.Any]] = {}
    load_before = os.getloadavg()[0]
    for round_index in range(options.repeat):
        index = round_index + 1 if options.new_certificate else 0
        # Sizes, and the floor before or after the task, in alternating order: a drifting load hits both alike.
        for size, folder in (list(folders.items()) if round_index % 2 else list(reversed(folders.items()))):
            names = [f"h{n}.site{index:04d}.bench.test.pfx" for n in range(options.names)]
            local, before = server.local_dir / folder, set(os.listdir(server.local_dir / folder))
            if round_index % 2:
                floors[size].append(size_floor(server, folder, names, pfx_files[index], record_sized, options.new_certificate))
            began = time.perf_counter()
            result = publish(size_task(server, folder, pfx_files[index], index, options))
            times[size].append(time.perf_counter() - began)
            assert result["changed"] is options.new_certificate and not result.get("failed"), result
            traffic[size] = {k: result["replicas"][0][k] for k in ("pfx_bytes_read", "pfx_bytes_written", "other_bytes", "round_trips")}
            if options.new_certificate:
                remove_new_files(local, before)
            if not round_index % 2:
                floors[size].append(size_floor(server, folder, names, pfx_files[index], record_sized, options.new_certificate))
    smallest = statistics.median(times[min(folders)])
    return {
        "names_per_certificate": options.names,
        "without_host_names": options.without_host_names,
        "new_certificate": options.new_certificate,
        "rounds": options.repeat,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "sizes": {
            size: {
                "files": sum(1 for p in (server.local_dir / folder).iterdir() if p.suffix == ".pfx"),
                "ms_task": round(statistics.median(times[size]) * 1000, 1),
                "ms_floor": round(statistics.median(floors[size]) * 1000, 1),
                "vs_floor": round(statistics.median(times[size]) / statistics.median(floors[size]), 2),
                "vs_smallest_store": round(statistics.median(times[size]) / smallest, 2),
                **traffic[size],
            }
            for size, folder in folders.items()
        },
    }


def size_task(server: SambaServer, folder: str, pfx: Path, index: int, options: argparse.Namespace) -> dict[str, t.Any]:
    args = task_args([pfx], server.destination(name=folder, path=f"{server.unc}\\{folder}"), batch=False)[0]
    # A quick load of the PFX tells its thumbprint (and without host_names its file names) before the read, so
    # its records are read by exact name either way (README, "Manifest records").
    if not options.without_host_names:
        args["host_names"] = [f"h{n}.site{index:04d}.bench.test" for n in range(options.names)]
    return args


def size_floor(server: SambaServer, folder: str, names: t.Sequence[str], pfx: Path, record_sized: Path, new_certificate: bool) -> float:
    """One smbclient session: it looks the task's files up, or puts as many new files of the same sizes (PFX files and
    record-sized ones) into the folder, which are then removed again."""
    if not new_certificate:
        return smbclient_lookup(server, folder, names)
    local = server.local_dir / folder
    before = set(os.listdir(local))
    puts = [f"put {pfx.name} {name}" for name in names]
    puts += [f"put {record_sized.name} .iis-ccs-rec-floor-{n}.json" for n in range(len(names))]
    elapsed = run_smbclient(server, f"cd {folder}; lcd {pfx.parent}; " + "; ".join(puts), timeout=120)
    remove_new_files(local, before)
    return elapsed


def remove_new_files(folder: Path, before: set[str]) -> None:
    """Takes a round's new certificate (or its floor's files) out again, so every round sees the same store."""
    for name in set(os.listdir(folder)) - before:
        (folder / name).unlink()


def print_sizes(figures: dict[str, t.Any]) -> None:
    given = "without host_names" if figures["without_host_names"] else "with host_names"
    kind = "first publish of a new certificate" if figures["new_certificate"] else "unchanged task"
    print(f"one {kind} ({given}), 1 certificate x {figures['names_per_certificate']} names, median of {figures['rounds']} interleaved round(s); "
          f"load average {figures['load_average'][0]} before, {figures['load_average'][1]} after")
    floor = "smbclient put of as many new files" if figures["new_certificate"] else "smbclient look-up"
    print(f"| store files | task | {floor} (floor) | vs floor | vs smallest store | other bytes | round trips |\n|---:|---:|---:|---:|---:|---:|---:|")
    for run in figures["sizes"].values():
        print(f"| {run['files']:,} | {run['ms_task']} ms | {run['ms_floor']} ms | {run['vs_floor']}x | {run['vs_smallest_store']}x | "
              f"{run['other_bytes']:,} | {run['round_trips']} |")


def smbclient_floor(server: SambaServer, files: Path) -> float:
    """smbclient puts the same bytes into a fresh folder of the same (encrypted) share, in one session."""
    if install_smbclient() is None:
        raise SystemExit("smbclient is not installed (Debian/Ubuntu: apt-get install smbclient); it is the floor of this benchmark")
    elapsed = run_smbclient(server, f"mkdir floor; cd floor; lcd {files}; prompt; mput *.pfx", timeout=600)
    shutil.rmtree(server.local_dir / "floor")
    return elapsed


def benchmark(server: SambaServer, work: Path, options: argparse.Namespace) -> dict[str, t.Any]:
    certs = work / "certs"
    certs.mkdir()
    started = time.perf_counter()
    pfx_files = make_certificates(certs, options.certificates, options.names)
    renewed_dir = work / "renewed"
    renewed_dir.mkdir()
    renewed = make_certificates(renewed_dir, min(options.renew, options.certificates), options.names)
    generated = time.perf_counter() - started
    destination = server.destination(name="bench")
    load_before = os.getloadavg()[0]
    store, floor_files = server.local_dir, work / "floor-files"
    rounds: dict[str, list[dict[str, t.Any]]] = {key: [] for key in ("floor", "batch_first", "batch_unchanged", "batch_renewal")}
    for _round in range(0 if options.separate_only else options.repeat):
        clear(store)
        rounds["batch_first"].append(run_tasks(task_args(pfx_files, destination, batch=True)))
        shutil.rmtree(floor_files, ignore_errors=True)
        shutil.copytree(store, floor_files, ignore=shutil.ignore_patterns(".*"))
        rounds["floor"].append({"seconds": round(smbclient_floor(server, floor_files), 2)})
        rounds["batch_unchanged"].append(run_tasks(task_args(pfx_files, destination, batch=True)))
        rounds["batch_renewal"].append(run_tasks(task_args([*renewed, *pfx_files[len(renewed):]], destination, batch=True)))
    figures: dict[str, t.Any] = {
        "certificates": options.certificates,
        "names_per_certificate": options.names,
        "files_on_share": sum(1 for p in store.iterdir() if p.suffix == ".pfx"),
        "renewed_certificates": len(renewed),
        "rounds": options.repeat,
        "certificate_generation_seconds": round(generated, 1),
        # The machine may be shared: the 1-minute load average before the rounds and after them.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    for key, runs in rounds.items():
        if runs:
            figures[key] = _median_run(runs)
    if options.separate:
        clear(store)
        floor = SeparateFloor(server, pfx_files, options.names)
        figures["separate_first"] = run_tasks(task_args(pfx_files, destination, batch=False), floor=floor.put_new_files)
        figures["separate_unchanged"] = run_tasks(task_args(pfx_files, destination, batch=False), floor=floor.look_up)
        figures["files_on_share"] = sum(1 for p in store.iterdir() if p.suffix == ".pfx")
    return figures


class SeparateFloor:
    """The floor of one task per certificate: one smbclient session per task, in a folder of the same share that
    grows like the store (the same number of new files of the same sizes per task), so whatever Samba itself
    pays for a bigger folder shows in the floor too. Without it a first-to-last comparison cannot tell the
    collection's growth from the server's (a case-insensitive share reads the whole folder for a name not there)."""

    folder = "separate-floor"

    def __init__(self, server: SambaServer, pfx_files: t.Sequence[Path], names: int) -> None:
        if install_smbclient() is None:
            raise SystemExit("smbclient is not installed (Debian/Ubuntu: apt-get install smbclient); it is the floor of this benchmark")
        self.server, self.pfx_files, self.names = server, pfx_files, names
        shutil.rmtree(server.local_dir / self.folder, ignore_errors=True)
        (server.local_dir / self.folder).mkdir()
        # A manifest record's size, for the floor's stand-ins of the task's records.
        self.record = pfx_files[0].parent / "record-sized.json"
        self.record.write_bytes(b"x" * 330)

    def _names(self, index: int) -> list[str]:
        return [f"h{n}.site{index:04d}.bench.test.pfx" for n in range(self.names)]

    def put_new_files(self, index: int) -> float:
        """A first publish's floor: the task's PFX files and as many record-sized files, put in one session."""
        pfx = self.pfx_files[index]
        puts = [f"put {pfx.name} {name}" for name in self._names(index)]
        puts += [f"put {self.record.name} .iis-ccs-rec-floor-{index:04d}-{n}.json" for n in range(self.names)]
        return run_smbclient(self.server, f"cd {self.folder}; lcd {pfx.parent}; " + "; ".join(puts), timeout=120)

    def look_up(self, index: int) -> float:
        """An unchanged task's floor: one session looking up the task's own files."""
        return smbclient_lookup(self.server, self.folder, self._names(index))


def _median_run(runs: t.Sequence[dict[str, t.Any]]) -> dict[str, t.Any]:
    """The run with the median time (its byte counts with it)."""
    return sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]


def print_table(figures: dict[str, t.Any]) -> None:
    floor = figures["floor"]["seconds"] if "floor" in figures else float("nan")
    print(f"{figures['certificates']} certificates x {figures['names_per_certificate']} names -> {figures['files_on_share']} files, "
          f"median of {figures['rounds']} interleaved round(s); load average {figures['load_average'][0]} before, {figures['load_average'][1]} after")
    print("| run | wall | vs smbclient | PFX bytes written | PFX bytes read | files changed | sources loaded |\n|---|---:|---:|---:|---:|---:|---:|")
    labels = {"floor": "smbclient mput, one session (floor)", "batch_first": "one task, first publish", "batch_unchanged": "one task, unchanged re-run",
              "batch_renewal": f"one task, renewal of {figures['renewed_certificates']}", "separate_first": "one task per certificate, first publish",
              "separate_unchanged": "one task per certificate, unchanged re-run"}
    for key, label in labels.items():
        run = figures.get(key)
        if run is None:
            continue
        extra = ""
        if "ms_per_task_first_tenth" in run:
            extra = (f" ({run['ms_per_task_first_tenth']} ms/task in the first tenth, {run['ms_per_task_last_tenth']} ms in the last: "
                     f"{run['last_to_first_tenth']}x; fitted rise {run['ms_fitted_rise']:+} ms")
            if "floor_ms_per_task_first_tenth" in run:
                extra += (f"; its smbclient floor {run['floor_ms_per_task_first_tenth']} and {run['floor_ms_per_task_last_tenth']} ms: "
                          f"{run['floor_last_to_first_tenth']}x, fitted rise {run['floor_ms_fitted_rise']:+} ms")
            extra += ")"
        counts = " | ".join(f"{run[k]:,}" if k in run else "-" for k in ("pfx_bytes_written", "pfx_bytes_read", "files_changed", "sources_loaded"))
        ratio = "-" if math.isnan(floor) else f"{run['seconds'] / floor:.1f}x"  # no floor with --separate-only
        print(f"| {label}{extra} | {run['seconds']:.2f} s | {ratio} | {counts} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=250)
    parser.add_argument("--names", type=int, default=4)
    parser.add_argument("--renew", type=int, default=10, help="certificates renewed in the renewal run")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds of floor, first, unchanged and renewal")
    parser.add_argument("--no-separate", dest="separate", action="store_false", help="skip the one-task-per-certificate runs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--separate-only", action="store_true", help="only the one-task-per-certificate runs (no batch rounds, no floor)")
    parser.add_argument("--without-host-names", action="store_true", help="--store-sizes: the task gives no host_names")
    parser.add_argument("--new-certificate", action="store_true",
                        help="--store-sizes: time the first publish of a certificate the store does not hold (its files are removed after each round)")
    parser.add_argument("--samba-case-sensitive", action="store_true",
                        help="serve the share with 'case sensitive = yes' (a missing name is not searched for in the whole folder)")
    parser.add_argument("--store-sizes", type=lambda text: [int(v) for v in text.split(",")], default=None,
                        help="instead: one unchanged single-certificate task in stores of these sizes, e.g. 10,1000,10000")
    options = parser.parse_args()
    output = REPO / "tests" / "output"
    output.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="benchmark-publish-", dir=output))
    # Samba matches names case-insensitively by default, so each look-up of a name not there reads the
    # whole folder; "case sensitive = yes" stats the name instead, as NTFS answers from its index. The
    # flag shows how much of a growing store's cost is that server behaviour.
    share_options = {"case sensitive": "yes"} if options.samba_case_sensitive else {}
    server = SambaServer(work / "samba", share_options=share_options).setup()
    try:
        server.start()
        figures = store_sizes(server, work, options) if options.store_sizes else benchmark(server, work, options)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    if options.store_sizes:
        if options.json:
            print(json.dumps(figures, indent=2))
        else:
            print_sizes(figures)
        moved = [run["pfx_bytes_read"] + run["pfx_bytes_written"] for run in figures["sizes"].values()]
        return 0 if options.new_certificate or not any(moved) else 1
    if options.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    unchanged = [figures[k] for k in ("batch_unchanged", "separate_unchanged") if k in figures]
    ok = all(run["pfx_bytes_read"] == run["pfx_bytes_written"] == run["files_changed"] == 0 for run in unchanged)
    ok = ok and not any(figures[k].get("failed") for k in figures if isinstance(figures[k], dict))
    if not ok:
        print("FAIL: a task failed, or an unchanged re-run moved PFX bytes or changed files", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
