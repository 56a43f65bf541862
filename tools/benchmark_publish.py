#!/usr/bin/env python
"""Benchmark ccs_cert_publish against a real Samba share on loopback (not a timed test).

Publishes N certificates with M host names each (default 250 x 4 = 1,000 files) to one
smb destination, once from an empty share and once more unchanged, and reports the time
and the bytes moved by each run. The unchanged re-run must move no PFX bytes.

    tools/benchmark_publish.py [--certificates 250] [--names 4] [--json]

Runs the module's task logic in-process (one call per certificate, as one task per
certificate would), without ansible-playbook's own start-up cost. Starts smbd itself
(Debian/Ubuntu: apt-get install samba) with everything under a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
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
from _samba import SambaServer  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

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


def run_once(pfx_files: t.Sequence[Path], destination: dict[str, t.Any]) -> dict[str, t.Any]:
    totals = {"seconds": 0.0, "pfx_bytes_read": 0, "pfx_bytes_written": 0, "other_bytes": 0, "files_changed": 0, "failed": 0}
    start = time.perf_counter()
    for path in pfx_files:
        result = publish({"pfx_path": str(path), "pfx_password": PFX_PASSWORD, "private_key_password": STORE_PASSWORD, "destinations": [destination]})
        replica = result["replicas"][0]
        totals["failed"] += int(bool(result.get("failed")))
        totals["files_changed"] += len(replica["created"]) + len(replica["updated"])
        for key in ("pfx_bytes_read", "pfx_bytes_written", "other_bytes"):
            totals[key] += replica[key]
    totals["seconds"] = round(time.perf_counter() - start, 2)
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=250)
    parser.add_argument("--names", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    # Work files stay in the checkout (tests/output, git-ignored), not in /tmp.
    (REPO / "tests" / "output").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="iis-ccs-bench-", dir=REPO / "tests" / "output"))
    server = SambaServer(work / "samba").setup()
    try:
        server.start()
        certs = work / "certs"
        certs.mkdir()
        started = time.perf_counter()
        pfx_files = make_certificates(certs, options.certificates, options.names)
        generated = time.perf_counter() - started
        destination = server.destination(name="bench")
        first = run_once(pfx_files, destination)
        second = run_once(pfx_files, destination)
        files = sum(1 for p in server.local_dir.iterdir() if p.suffix == ".pfx")
        figures = {
            "certificates": options.certificates,
            "names_per_certificate": options.names,
            "files_on_share": files,
            "certificate_generation_seconds": round(generated, 1),
            "first_run": first,
            "unchanged_rerun": second,
        }
        if options.json:
            print(json.dumps(figures, indent=2))
        else:
            print(f"{options.certificates} certificates x {options.names} names -> {files} files on \\\\127.0.0.1\\{server.share} (port {server.port})")
            for label, run in (("first run", first), ("unchanged re-run", second)):
                print(
                    f"{label:>17}: {run['seconds']:8.2f} s, PFX bytes written {run['pfx_bytes_written']:>10,}, "
                    f"PFX bytes read {run['pfx_bytes_read']:>10,}, other bytes {run['other_bytes']:>12,}, "
                    f"files changed {run['files_changed']}, failed tasks {run['failed']}"
                )
        ok = second["pfx_bytes_read"] == 0 and second["pfx_bytes_written"] == 0 and second["files_changed"] == 0 and not first["failed"]
        if not ok:
            print("FAIL: the unchanged re-run moved PFX bytes or changed files", file=sys.stderr)
        return 0 if ok else 1
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
