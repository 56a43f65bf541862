#!/usr/bin/env python
"""What ccs_provider's unchanged secret check costs on the controller (not a timed test).

The check recomputes a salted scrypt fingerprint (N=2^15, r=8, p=1) of the wanted secrets and
compares it with the record on the host. This times, interleaved, repetition by repetition:

  v1 sequential  a record of the two-fingerprint format checked the way releases before the
                 one-fingerprint format did (two scrypt runs, one after the other): the "before";
  v1 concurrent  the same record checked as now (both scrypt runs at once, in two threads);
  current        a record of the one-fingerprint format (one scrypt run);
  digest differs the ciphertext digests differ (secrets re-set outside Ansible): no scrypt at all.

It prints each median, its ratio to "v1 sequential", and whether hashlib.scrypt lets other Python
threads run while it hashes (the GIL check: iterations of a pure-Python loop alone and while
another thread runs scrypt). The load averages are printed too: on a busy machine two threads
cannot run at once, whatever the GIL does.

Usage: tools/benchmark_secret_record.py [--reps 9] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import typing as t
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import conftest as _collection_link  # noqa: E402,F401  (makes ansible_collections.iis.ccs importable)

from ansible_collections.iis.ccs.plugins.plugin_utils._provider import secret_record as sr  # noqa: E402

USER, PASSWORD, KEY = "LAB\\svc-ccs", "Lab-Reader-Pa55!", "pfx-secret"
DIGESTS = {"PasswordCiphertextDigest": "aa" * 32, "PrivateKeyPasswordCiphertextDigest": "bb" * 32}


def v1_record() -> dict[str, str]:
    salt = sr.new_salt()
    return {"Algorithm": sr.ALGORITHM_V1, "Salt": salt, "CredentialFingerprint": sr.credential_fingerprint(salt, USER, PASSWORD),
            "PrivateKeyPasswordFingerprint": sr.private_key_fingerprint(salt, KEY), **DIGESTS}


def current_record() -> dict[str, str]:
    return {**sr.SecretRecord.create(USER, PASSWORD, KEY).host_values(), **DIGESTS}


def check(record: t.Mapping[str, str], password_digest: str = DIGESTS["PasswordCiphertextDigest"]) -> sr.SecretStatus:
    return sr.compare(record, user_name=USER, password=PASSWORD, private_key_password=KEY, password_ciphertext_digest=password_digest,
                      private_key_password_ciphertext_digest=DIGESTS["PrivateKeyPasswordCiphertextDigest"])


def v1_sequential(record: t.Mapping[str, str]) -> bool:
    """The check as releases with the two-fingerprint format ran it."""
    salt = record["Salt"]
    return (sr.credential_fingerprint(salt, USER, PASSWORD) == record["CredentialFingerprint"]
            and sr.private_key_fingerprint(salt, KEY) == record["PrivateKeyPasswordFingerprint"])


def gil_check(seconds: float = 0.3) -> dict[str, int]:
    """Iterations of a Python loop alone, then while another thread runs scrypt the whole time."""
    def spin() -> int:
        count, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            count += 1
        return count

    alone = spin()
    stop = threading.Event()

    def hash_until_stopped() -> None:
        while not stop.is_set():
            sr.fingerprint("00" * 16, "x")

    worker = threading.Thread(target=hash_until_stopped)
    worker.start()
    during = spin()
    stop.set()
    worker.join()
    return {"loop_iterations_alone": alone, "loop_iterations_during_scrypt": during}


def benchmark(reps: int) -> dict[str, t.Any]:
    old, new = v1_record(), current_record()
    variants: dict[str, t.Callable[[], object]] = {
        "v1 sequential": lambda: v1_sequential(old),
        "v1 concurrent": lambda: check(old),
        "current": lambda: check(new),
        "digest differs": lambda: check(new, password_digest="cc" * 32),
    }
    if not (v1_sequential(old) and check(old).reason == check(new).reason == "unchanged"):
        raise SystemExit("the records do not check as unchanged")
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _rep in range(reps):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["v1 sequential"]
    return {
        "reps": reps,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "median_ms": {name: round(value * 1000, 2) for name, value in medians.items()},
        "ratio_to_v1_sequential": {name: round(value / base, 3) for name, value in medians.items()},
        "gil": gil_check(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    figures = benchmark(options.reps)
    if options.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{figures['reps']} interleaved repetitions, {figures['cpus']} CPUs, load average {figures['load_average']}")
    print(f"{'check':<16}{'median':>10}{'ratio':>8}")
    for name, value in figures["median_ms"].items():
        print(f"{name:<16}{value:>8.1f}ms{figures['ratio_to_v1_sequential'][name]:>7.2f}x")
    gil = figures["gil"]
    print(f"GIL: a Python loop ran {gil['loop_iterations_during_scrypt']:,} iterations while another thread ran scrypt "
          f"({gil['loop_iterations_alone']:,} alone): scrypt {'releases' if gil['loop_iterations_during_scrypt'] else 'holds'} the GIL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
