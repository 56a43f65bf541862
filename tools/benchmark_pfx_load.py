#!/usr/bin/env python
"""Does a process pool make ccs_cert_publish's full path faster? (A measurement, not a timed test.)

The full path of one certificate is: load the source PFX (cryptography's RSA key consistency check is
most of it), validate it, and for a certificate that must be written, export it with the store
password. cryptography holds the GIL through the load, so threads cannot overlap it. This compares,
on the same N certificates, in interleaved rounds (medians printed):

  sequential   load + validate + export, one after another (the floor);
  threads      the same on a thread pool of --workers threads (what the module does);
  processes    the same on a process pool of --workers processes (spawn start method: a child
               of an Ansible worker must not fork a process that may hold other threads' locks);
               the secrets travel to the children through the pool's pipe, never on a command line,
               and the pool is shut down before the figures are taken.

    tools/benchmark_pfx_load.py [--certificates 40] [--workers 2] [--repeat 3]

With --mode quick it compares, per PFX encryption, cryptography's pkcs12.load_pkcs12 (the full
load: OpenSSL's RSA key check with its primality tests) with the quick load load_pfx tries first
(quick_load_pfx: unpack.py, then the key without the primality tests, checked by arithmetic),
in interleaved rounds over the same certificates; medians of the per-round totals and the ratio:

    tools/benchmark_pfx_load.py --mode quick [--certificates 40] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests"))

import conftest as _collection_link  # noqa: E402,F401  (makes ansible_collections.iis.ccs importable)
from benchmark_publish import PFX_PASSWORD, STORE_PASSWORD, make_certificates  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402

from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import export_pfx, load_pfx, quick_load_pfx  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.validate import validate_bundle  # noqa: E402


def full_path(data: bytes) -> int:
    """Load, validate and export one certificate; returns the exported size (the bytes a child would send back)."""
    bundle = load_pfx(data, PFX_PASSWORD)
    validate_bundle(bundle, (), now=datetime.datetime.now(datetime.timezone.utc), expiry_warning_days=30)
    return len(export_pfx(bundle, STORE_PASSWORD, "compatible"))


def sequential(sources: t.Sequence[bytes], _workers: int) -> float:
    start = time.perf_counter()
    for data in sources:
        full_path(data)
    return time.perf_counter() - start


def threads(sources: t.Sequence[bytes], workers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(full_path, sources))
    return time.perf_counter() - start


def processes(sources: t.Sequence[bytes], workers: int) -> float:
    """Includes starting and stopping the pool: a task would pay that every time."""
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(full_path, sources, chunksize=max(1, len(sources) // (workers * 4))))
    return time.perf_counter() - start


def full_load(sources: t.Sequence[bytes], password: str) -> float:
    start = time.perf_counter()
    for data in sources:
        pkcs12.load_pkcs12(data, password.encode("utf-8"))
    return time.perf_counter() - start


def quick_load(sources: t.Sequence[bytes], password: str) -> float:
    start = time.perf_counter()
    for data in sources:
        if quick_load_pfx(data, password) is None:
            raise SystemExit("the quick load declined a benchmark certificate: the figures would mean nothing")
    return time.perf_counter() - start


def openssl_legacy(bundle: t.Any, folder: Path) -> bytes:
    """The bundle as `openssl pkcs12 -export -legacy` writes it (RC2-40 certificates, 3DES key), as older Windows exports are."""
    key = folder / "key.pem"
    key.write_bytes(bundle.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "certs.pem").write_bytes(b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in (bundle.certificate, *bundle.chain)))
    command = ["openssl", "pkcs12", "-export", "-legacy", "-inkey", str(key), "-in", str(folder / "certs.pem"), "-passout", "env:BENCH_PFX_PASSWORD"]
    env = {**os.environ, "BENCH_PFX_PASSWORD": STORE_PASSWORD}  # the password stays off the command line
    try:
        return subprocess.run(command, capture_output=True, check=True, env=env).stdout
    finally:
        key.unlink()


def compare_quick(sources: t.Sequence[bytes], repeat: int, work: Path) -> None:
    """load_pkcs12 against quick_load_pfx, for the sources as written and as this collection exports them."""
    bundles = [load_pfx(data, PFX_PASSWORD) for data in sources]
    encodings = {
        "cryptography BestAvailableEncryption (PBES2 AES-256 with 20,000 PBKDF2 rounds, SHA-256 MAC)": (list(sources), PFX_PASSWORD),
        'export_pfx "compatible" (3DES, SHA-1 MAC)': ([export_pfx(bundle, STORE_PASSWORD, "compatible") for bundle in bundles], STORE_PASSWORD),
        'export_pfx "aes256" (PBES2 AES-256, SHA-256 MAC)': ([export_pfx(bundle, STORE_PASSWORD, "aes256") for bundle in bundles], STORE_PASSWORD),
    }
    if shutil.which("openssl"):
        encodings["openssl pkcs12 -export -legacy (RC2-40 certificates, 3DES key, SHA-1 MAC)"] = ([openssl_legacy(b, work) for b in bundles], STORE_PASSWORD)
    else:
        print("(no openssl command: the -legacy row is left out)")
    load_before = os.getloadavg()[0]
    runs: dict[tuple[str, str], list[float]] = {}
    for _round in range(repeat):
        for name, (data, password) in encodings.items():
            for kind, func in (("full", full_load), ("quick", quick_load)):
                runs.setdefault((name, kind), []).append(func(data, password))
    count = len(sources)
    print(
        f"{count} RSA-2048 certificates with a 1-certificate chain, MAC with 2,048 rounds, median of {repeat} interleaved rounds; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print("| PFX | pkcs12.load_pkcs12 ms per certificate | quick_load_pfx ms per certificate | quick / full |\n|---|---:|---:|---:|")
    for name in encodings:
        full, quick = statistics.median(runs[name, "full"]), statistics.median(runs[name, "quick"])
        print(f"| {name} | {full * 1000 / count:.1f} | {quick * 1000 / count:.1f} | {quick / full:.2f}x |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("pool", "quick"), default="pool")
    parser.add_argument("--certificates", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    output = REPO / "tests" / "output"
    output.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="benchmark-pfx-load-", dir=output))
    try:
        sources = [path.read_bytes() for path in make_certificates(work, options.certificates, 1)]
        if options.mode == "quick":
            compare_quick(sources, options.repeat, work)
            return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_before = os.getloadavg()[0]
    runs: dict[str, list[float]] = {"sequential": [], "threads": [], "processes": []}
    for _round in range(options.repeat):
        for name, func in (("sequential", sequential), ("threads", threads), ("processes", processes)):
            runs[name].append(func(sources, options.workers))
    floor = statistics.median(runs["sequential"])
    print(
        f"{options.certificates} RSA-2048 certificates, {options.workers} workers, {os.cpu_count()} CPUs, median of {options.repeat} interleaved rounds; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print("| full path (load + validate + export) | wall | ms per certificate | vs sequential |\n|---|---:|---:|---:|")
    for name, times in runs.items():
        median = statistics.median(times)
        print(f"| {name} | {median:.2f} s | {median * 1000 / options.certificates:.1f} | {median / floor:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
