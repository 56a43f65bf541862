#!/usr/bin/env python
"""ccs_verify's handshakes against a bare Python ssl handshake loop, on the lab's real TLS (not a timed test).

    tools/benchmark_verify.py [--nodes 50] [--names 200] [--concurrency 32] [--rounds 3] [--json]

Builds a lab of NODES web nodes, each with NAMES CCS bindings (n<i>.bench.test) and the provider
reading \\\\fs01\\ccs, where one PFX per name waits (an EC P-256 certificate for *.bench.test), and
starts the lab's TLS endpoints in their own process (tests/lab/tls-lab, free port). One unmeasured
pass loads every node's CCS cache, then, interleaved, ROUNDS times each:

  ccs_verify  the module's engine for all NODES x NAMES checks: handshake_all (bounded concurrency,
              per-handshake timeout, the served chain) and judge (thumbprint against the expected
              one, chain to the lab CA, name coverage, expiry) for every name
  bare        a ThreadPoolExecutor of the same size doing only ssl wrap_socket handshakes with SNI
              to the same endpoints, nothing judged

Prints the median seconds and checks per second of each and their ratio (goal: ccs_verify at least
0.8x the bare loop, and all NODES x NAMES checks within 60 s), and the load average at start and end
(the machine may be shared). Exit status 1 when a check did not
come back ok (the lab served something wrong, so the figures would not mean anything).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import shutil
import socket
import ssl
import statistics
import sys
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))
sys.path.insert(0, str(REPO / "tests"))

import conftest as _collection_link  # noqa: E402,F401  (makes ansible_collections.iis.ccs importable)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from ansible_collections.iis.ccs.plugins.plugin_utils._verify.handshake import Target, handshake_all  # noqa: E402
from ansible_collections.iis.ccs.plugins.plugin_utils._verify.judge import Expectation, Policy, judge  # noqa: E402

KEY_PASSWORD = "Bench-Store-Key"
READER, READER_PASSWORD = "LAB\\svc-ccs", "Bench-Reader"


def _certificates() -> tuple[x509.Certificate, bytes]:
    """A lab CA and a *.bench.test leaf (EC P-256), the leaf as a PFX with the store's key password."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365)).add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.bench.test")])).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=300)).add_extension(x509.SubjectAlternativeName([x509.DNSName("*.bench.test")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pfx = pkcs12.serialize_key_and_certificates(b"bench", key, leaf, None, serialization.BestAvailableEncryption(KEY_PASSWORD.encode()))
    return ca, pfx


def build_lab(state: Path, nodes: int, names: int) -> tuple[list[str], x509.Certificate, str]:
    """Host states written directly (as tests/playbooks/_tls_farm.py does): returns the node names, the CA and the leaf's SHA-256."""
    os.environ["IIS_LAB_STATE_DIR"] = str(state)
    from iis_lab.inventory import write_lab_hosts
    from iis_lab.model import PROVIDER_KEY
    from iis_lab.state import HostStore, machine_encrypt, windows_to_local

    ca, pfx = _certificates()
    hosts = [f"bench{i:03d}" for i in range(1, nodes + 1)]
    bindings = [{"protocol": "https", "binding_information": f"*:443:n{j}.bench.test", "ssl_flags": 3} for j in range(names)]
    profile = {"features": ["Web-Server", "Web-CertProvider"], "sites": [{"name": "Default Web Site", "bindings": bindings}],
               "httpsys": {"ccs": ["0.0.0.0:443"]}}
    network = {"accounts": {READER: READER_PASSWORD}, "shares": [{"unc": "\\\\fs01\\ccs", "host": "fs01", "path": "D:\\CCS", "read": [READER]}]}
    web = {h: {"ansible_host": f"127.0.{20 + i // 250}.{1 + i % 250}", "iis_lab_profile": profile} for i, h in enumerate(hosts)}
    inventory = {"all": {"vars": {"iis_lab_network": network}, "hosts": {**web, "fs01": {"iis_lab_profile": {"directories": ["D:\\CCS"]}}}}}
    write_lab_hosts(inventory)
    for host in hosts:
        with HostStore(host, profile).locked() as host_state:
            host_state["registry"][PROVIDER_KEY] = {"Enabled": 1, "CertStoreLocation": "\\\\fs01\\ccs", "UserName": READER,
                                                    "Password": machine_encrypt(host_state, READER_PASSWORD),
                                                    "PrivateKeyPassword": machine_encrypt(host_state, KEY_PASSWORD), "PollingInterval": 300}
    with HostStore("fs01", {"directories": ["D:\\CCS"]}).locked():
        pass
    store = windows_to_local("fs01", "D:\\CCS")
    for j in range(names):
        (store / f"n{j}.bench.test.pfx").write_bytes(pfx)
    sha256 = x509.load_der_x509_certificate(pkcs12.load_key_and_certificates(pfx, KEY_PASSWORD.encode())[1].public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.DER)).fingerprint(hashes.SHA256()).hex().upper()
    return hosts, ca, sha256


def ccs_verify_pass(targets: list[Target], concurrency: int, policy: Policy, expected: Expectation) -> int:
    served = handshake_all(targets, concurrency=concurrency, timeout=10)
    return sum(1 for s in served if judge(s, expected, policy)["ok"])


def bare_pass(targets: list[Target], concurrency: int) -> int:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def one(target: Target) -> bool:
        with socket.create_connection((target.address, target.port), timeout=10) as raw, context.wrap_socket(raw, server_hostname=target.sni):
            return True

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        return sum(pool.map(one, targets))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--names", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    state = REPO / "tests" / "output" / "benchmark-verify"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    hosts, ca, sha256 = build_lab(state, args.nodes, args.names)
    from iis_lab import tls_lab

    os.environ.update(IIS_LAB_TLS_PORTS="443", IIS_LAB_TLS_PORT_OFFSET=str(_free_offset()))
    endpoints = tls_lab.start(None)
    try:
        port = int(endpoints["ports"]["443"])
        targets = [Target(f"n{j}.bench.test", f"n{j}.bench.test", endpoints["hosts"][h], port) for h in hosts for j in range(args.names)]
        policy = Policy((ca,), datetime.datetime.now(datetime.timezone.utc), 30)
        expected = Expectation(sha256, "expected")
        warm = time.perf_counter()
        ok = ccs_verify_pass(targets, args.concurrency, policy, expected)
        warm = time.perf_counter() - warm
        if ok != len(targets):
            print(f"benchmark_verify: only {ok} of {len(targets)} checks came back ok in the warm-up pass", file=sys.stderr)
            return 1
        times: dict[str, list[float]] = {"ccs_verify": [], "bare": []}
        for _round in range(args.rounds):
            for name, run in (("bare", lambda: bare_pass(targets, args.concurrency)),
                              ("ccs_verify", lambda: ccs_verify_pass(targets, args.concurrency, policy, expected))):
                start = time.perf_counter()
                count = run()
                times[name].append(time.perf_counter() - start)
                if count != len(targets):
                    print(f"benchmark_verify: {name}: {count} of {len(targets)} handshakes ok", file=sys.stderr)
                    return 1
    finally:
        tls_lab.stop()
    report = _report(times, len(targets), args, warm)
    report["load_average"] = {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)}
    print(json.dumps(report, indent=1) if args.json else _text(report))
    return 0


def _free_offset() -> int:
    # One free port above 443 shared by every lab address: probe with the first node's address.
    with socket.socket() as probe:
        probe.bind(("127.0.20.1", 0))
        return int(probe.getsockname()[1]) - 443


def _report(times: t.Mapping[str, list[float]], checks: int, args: argparse.Namespace, warm: float) -> dict[str, t.Any]:
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "checks": checks, "nodes": args.nodes, "names": args.names, "concurrency": args.concurrency, "rounds": args.rounds,
        "warm_up_seconds": round(warm, 2),
        "seconds": {name: round(value, 2) for name, value in medians.items()},
        "per_second": {name: round(checks / value) for name, value in medians.items()},
        "ratio": round(medians["bare"] / medians["ccs_verify"], 3),
    }


def _text(report: t.Mapping[str, t.Any]) -> str:
    lines = [f"{report['checks']} checks ({report['nodes']} nodes x {report['names']} names), concurrency {report['concurrency']}, "
             f"median of {report['rounds']} interleaved rounds (warm-up pass loading the CCS caches: {report['warm_up_seconds']} s)"]
    for name in ("ccs_verify", "bare"):
        lines.append(f"  {name:<11} {report['seconds'][name]:>7.2f} s  {report['per_second'][name]:>6} checks/s")
    lines.append(f"  ratio ccs_verify / bare: {report['ratio']:.3f}x")
    lines.append(f"  load average (1 min) at start {report['load_average']['start']}, at end {report['load_average']['end']} "
                 f"({os.cpu_count()} cores; the figures mean little when it is well above that)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
