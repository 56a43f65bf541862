# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A store folder on an SMB share, reached directly from the controller with smbprotocol."""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._store.errors import explain_smb_error
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import FileStat, StoreError

try:
    import smbclient
    from smbprotocol.exceptions import SMBOSError

    HAS_SMBPROTOCOL = True
except ImportError:  # pragma: no cover - reported as a user-facing error by the caller
    HAS_SMBPROTOCOL = False


def split_unc(path: str) -> tuple[str, str]:
    """\\\\server\\share\\folder -> (server, normalised path); rejects anything that is not a UNC path."""
    normalised = path.replace("/", "\\")
    parts = [p for p in normalised[2:].split("\\") if p] if normalised.startswith("\\\\") else []
    if len(parts) < 2:
        raise ValueError("must be a UNC path such as \\\\server\\share\\folder")
    return parts[0], "\\\\" + "\\".join(parts)


class SmbFileSystem:
    """File primitives over one SMB session; every error becomes a StoreError without credentials in it."""

    def __init__(self, path: str, *, user_name: str | None, password: str | None, port: int, encrypt: bool) -> None:
        if not HAS_SMBPROTOCOL:
            raise StoreError("the smb destination type needs the Python package smbprotocol on the controller")
        self.server, self.path = split_unc(path)
        self.port = port
        self._session = {"username": user_name, "password": password, "port": port, "encrypt": encrypt}
        self._registered = False
        # A private pool: each destination logs on with its own credentials, never riding on a
        # session another destination (or an earlier password) opened to the same server.
        self._pool: dict[str, t.Any] = {}

    def _connect(self) -> None:
        if not self._registered:
            try:
                smbclient.register_session(self.server, connection_timeout=10, connection_cache=self._pool, **self._session)
            except Exception as exc:  # noqa: BLE001 - logon failures, refused connections, timeouts
                raise StoreError(explain_smb_error(exc, f"{self.server}:{self.port}", "cannot connect to")) from None
            self._registered = True

    def _full(self, name: str) -> str:
        return f"{self.path}\\{name}"

    def _call(self, what: str, func: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._connect()
        try:
            return func(*args, port=self.port, connection_cache=self._pool, **kwargs)
        except FileNotFoundError:
            raise
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, SMBOSError) and exc.errno == 2:
                raise FileNotFoundError(str(args[0])) from None
            raise StoreError(explain_smb_error(exc, self.path, f"{what} in")) from None

    def close(self) -> None:
        try:
            smbclient.reset_connection_cache(fail_on_error=False, connection_cache=self._pool)
        except Exception:  # noqa: BLE001 - closing a dead connection must not fail the task
            pass
        self._registered = False

    def list(self, pattern: str = "*") -> dict[str, FileStat]:
        found: dict[str, FileStat] = {}
        try:
            # The server filters by pattern, so looking for our temp files costs one small request.
            entries = self._call(
                "listing the files",
                lambda p, port, connection_cache: list(smbclient.scandir(p, search_pattern=pattern, port=port, connection_cache=connection_cache)),
                self.path,
            )
        except FileNotFoundError:
            raise StoreError(f"the folder {self.path} does not exist") from None
        for entry in entries:
            # DirEntry carries the attributes the server sent with the listing, so this costs no extra request.
            info = entry.smb_info
            if entry.is_dir():
                continue
            size = int(info.end_of_file)
            mtime = _filetime_to_ticks(info.last_write_time)
            found[entry.name] = FileStat(size, mtime)
        return found

    def read(self, name: str) -> bytes | None:
        try:
            return t.cast(bytes, self._call(f"reading {name}", _read_all, self._full(name)))
        except FileNotFoundError:
            return None

    def write_new(self, name: str, data: bytes) -> None:
        self._call(f"writing {name}", _write_new, self._full(name), data)

    def replace(self, source: str, target: str) -> None:
        self._call(f"renaming to {target}", smbclient.replace, self._full(source), self._full(target))

    def remove(self, name: str) -> None:
        try:
            self._call(f"removing {name}", smbclient.remove, self._full(name))
        except FileNotFoundError:
            pass

    def stat(self, name: str) -> FileStat:
        result = self._call(f"stat of {name}", smbclient.stat, self._full(name))
        return FileStat(int(result.st_size), int(result.st_mtime_ns) // 1000 * 10)


def _read_all(path: str, port: int, connection_cache: dict[str, t.Any]) -> bytes:
    with smbclient.open_file(path, mode="rb", port=port, connection_cache=connection_cache) as handle:
        return t.cast(bytes, handle.read())


def _write_new(path: str, data: bytes, port: int, connection_cache: dict[str, t.Any]) -> None:
    with smbclient.open_file(path, mode="xb", port=port, connection_cache=connection_cache) as handle:
        handle.write(data)


def _filetime_to_ticks(value: datetime.datetime) -> int:
    # smbprotocol hands FILETIME fields of a listing over as datetimes, which keep
    # microseconds only; stat() below truncates the same way so both always agree.
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    aware = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    delta = aware - epoch
    return ((delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds) * 10
