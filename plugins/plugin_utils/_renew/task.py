# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ccs_renew_plan from task parameters to result: read one replica of the store, plan the renewals.

Read-only. The store is read through ccs_cert_publish's own back ends (the same destination types
and credentials). The manifest vouches for files whose size and time it recorded; only the other
files are opened, with the store's private-key password. The files of certificates due for
renewal are returned as they are (``previous``), so a failed renewal can put them back.
"""

from __future__ import annotations

import base64
import typing as t
from datetime import datetime, timezone

from ansible_collections.iis.ccs.plugins.plugin_utils._core.action_base import ModuleFailure, TaskContext, UserInputError
from ansible_collections.iis.ccs.plugins.plugin_utils._core.host_ops import HostOperationRunner
from ansible_collections.iis.ccs.plugins.plugin_utils._pfx.bundle import CertificateError, load_pfx
from ansible_collections.iis.ccs.plugins.plugin_utils._publish.task import build_replica, check_destinations, check_key_password
from ansible_collections.iis.ccs.plugins.plugin_utils._renew.plan import (
    Renewal,
    StoreFile,
    group_certificates,
    iso,
    parse_names,
    plan_renewals,
)
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import StoreBackend, StoreError, StoreListing


def check_request(params: t.Mapping[str, t.Any]) -> None:
    # The rules are ccs_cert_publish's: the same destinations and password are passed to both modules.
    check_key_password(params)
    check_destinations(params["destinations"])
    if params["renew_before_days"] < 0:
        raise UserInputError("renew_before_days: must be 0 or more (days before expiry when a certificate is renewed)")


def read_first_replica(params: t.Mapping[str, t.Any], runner: HostOperationRunner) -> tuple[str, StoreBackend, StoreListing]:
    """The first replica that answers; replicas are copies, and the next publish heals a lagging one."""
    errors = []
    for destination in params["destinations"]:
        replica = build_replica(destination, runner)
        if replica.backend is None:
            errors.append(f"{replica.name}: {replica.setup_error}")
            continue
        try:
            return replica.name, replica.backend, replica.backend.read()
        except (StoreError, OSError) as exc:
            errors.append(f"{replica.name}: {exc}")
    raise ModuleFailure("no replica of the certificate store could be read: " + "; ".join(errors), changed=False)


def identify_files(backend: StoreBackend, listing: StoreListing, key_password: str | None) -> tuple[list[StoreFile], list[str]]:
    """Every PFX file's thumbprint and expiry: from its record where it vouches for the file, else from the file."""
    vouched = listing.vouched()
    known, unknown = [], []
    for name in sorted(listing.pfx):
        entry = vouched.get(name)
        if entry and entry.get("not_after"):
            known.append(StoreFile(name, str(entry["thumbprint"]).upper(), _parse_iso(str(entry["not_after"]))))
        else:
            unknown.append(name)
    unreadable = []
    for name, data in sorted(backend.fetch(unknown).items() if unknown else []):
        try:
            bundle = load_pfx(data, key_password, option="store file", password_option="private_key_password")
        except CertificateError:
            unreadable.append(name)
            continue
        known.append(StoreFile(name, bundle.thumbprint.upper(), bundle.not_after))
    return known, unreadable


def previous_files(backend: StoreBackend, renewals: t.Sequence[Renewal]) -> list[dict[str, t.Any]]:
    """The PFX now in the store for each renewal that replaces a certificate (one file per certificate)."""
    wanted = {r.current.file_names[0]: r for r in renewals if r.current is not None}
    if not wanted:
        return []
    by_lower = {name.lower(): data for name, data in backend.fetch(sorted(wanted)).items()}
    return [
        {"host_names": list(renewal.host_names), "thumbprint": renewal.current.thumbprint,
         "pfx_content": base64.b64encode(by_lower[name]).decode("ascii")}
        for name, renewal in sorted(wanted.items())
        if renewal.current is not None and name in by_lower
    ]


def run_renew_plan(context: TaskContext, runner: HostOperationRunner, *, now: datetime | None = None) -> dict[str, t.Any]:
    params = context.params
    check_request(params)
    try:
        bound = parse_names(params["bound_host_names"], "bound_host_names")
        forced = parse_names(params["force_host_names"], "force_host_names")
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    now = now or datetime.now(timezone.utc)
    replica, backend, listing = read_first_replica(params, runner)
    try:
        files, unreadable = identify_files(backend, listing, params.get("private_key_password"))
        certificates = group_certificates(files)
        renewals = plan_renewals(certificates, now=now, renew_before_days=params["renew_before_days"], bound=bound, forced=forced)
        previous = previous_files(backend, renewals) if params["include_previous"] else []
    except (StoreError, OSError) as exc:
        raise ModuleFailure(f"{replica}: {exc}", changed=False) from None
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    result: dict[str, t.Any] = {
        "changed": False,
        "replica": replica,
        "now": iso(now),
        "certificates": [cert.public(now) for cert in certificates],
        "thumbprint_by_host_name": {name.lower(): cert.thumbprint for cert in certificates for name in cert.host_names},
        "renewals": [renewal.public(now) for renewal in renewals],
        "unreadable_files": unreadable,
        "previous": previous,
        "round_trips": runner.round_trips,
    }
    if unreadable:
        result["warnings"] = [f"{len(unreadable)} file(s) of {replica} cannot be opened with private_key_password and are not renewed: {', '.join(unreadable)}"]
    return result


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
