# Copyright: (c) 2026, iis.ccs contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A store folder on an SMB share, reached directly from the controller with smbprotocol."""

from __future__ import annotations

import datetime
import errno
import ntpath
import typing as t

from ansible_collections.iis.ccs.plugins.plugin_utils._store.errors import explain_smb_error
from ansible_collections.iis.ccs.plugins.plugin_utils._store.folder import FileStat, StoreError, new_temp_name, read_back, require_written, write_via_temp

try:
    import smbclient
    from smbprotocol.exceptions import EndOfFile, SMBOSError, SMBResponseException
    from smbprotocol.file_info import FileAttributes, FileDispositionInformation, FileRenameInformation
    from smbprotocol.open import CreateDisposition, CreateOptions, FilePipePrinterAccessMask, ImpersonationLevel, ShareAccess, SMB2SetInfoRequest

    HAS_SMBPROTOCOL = True
except ImportError:  # reported by SmbFileSystem as a user-facing error (tests/smb: test_without_smbprotocol_...)
    HAS_SMBPROTOCOL = False

try:
    # What smbclient's own stat() and replace() are built on: an Open on the session's tree, path resolved.
    # Not part of smbclient's documented interface: should a release move it, every file takes the
    # step-by-step path (COMPOUND_DATA_LIMIT below), which uses only the documented functions.
    from smbclient._io import SMBFileIO

    HAS_COMPOUND = True
except ImportError:
    HAS_COMPOUND = False


def split_unc(path: str) -> tuple[str, str]:
    """\\\\server\\share\\folder -> (server, normalised path); rejects anything that is not a UNC path."""
    normalised = path.replace("/", "\\")
    parts = [p for p in normalised[2:].split("\\") if p] if normalised.startswith("\\\\") else []
    if len(parts) < 2:
        raise ValueError("must be a UNC path such as \\\\server\\share\\folder")
    return parts[0], "\\\\" + "\\".join(parts)


# An SMB2 READ or WRITE of at most 64 KiB costs one credit, so it can travel inside a compound request
# (MS-SMB2 3.2.4.1.5); every PFX and record this collection writes is far smaller. Larger files take the
# step-by-step path.
COMPOUND_DATA_LIMIT = 65536 if HAS_COMPOUND else -1


class SmbFileSystem:
    """File primitives over one SMB session; every error becomes a StoreError without credentials in it."""

    # FolderStore writes this many files at once: smbprotocol multiplexes requests from several threads
    # on one connection, so one file's round trips overlap another's on the server. 8 rather than 4:
    # where the server answers a new name from an index (NTFS, or Samba with case sensitive = yes), the
    # first publish of 1,000 files took 3.51 s against 4.00 s in alternating rounds; on a default Samba
    # share, which reads the folder for each new name, it was no slower. 16 gained 2% more (README).
    parallel_requests = 8

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
        """Open, read and close in one round trip (a manifest record, a PFX); a file over 64 KiB is then read whole."""
        if HAS_COMPOUND:
            self._connect()
            try:
                data, stat = self._read_with_stat(name, COMPOUND_DATA_LIMIT)
            except Exception as exc:  # noqa: BLE001
                raise StoreError(explain_smb_error(exc, self.path, f"reading {name} in")) from None
            if data is None or len(data) >= stat.size:
                return data
        try:
            return t.cast(bytes, self._call(f"reading {name}", _read_all, self._full(name)))
        except FileNotFoundError:  # removed in between by a publisher that replaced it
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

    def write_atomic(self, name: str, data: bytes) -> FileStat:
        """The temporary file is created and written in one round trip, then renamed over name and closed in a
        second (the step-by-step path takes seven). The rename is sent only after the server confirmed every byte,
        so a short or failed write never replaces the old file. Returns the size and time the close reported."""
        if len(data) > COMPOUND_DATA_LIMIT:
            write_via_temp(self, name, data)
            return self.stat(name)
        closed, _back = self._replace_via_temp(name, data, read_back=0)
        return closed if closed is not None else self.stat(name)

    def write_verified(self, name: str, data: bytes) -> FileStat:
        """write_atomic and read_verified in two round trips instead of three: the temporary file is created and
        written in one; only when the server confirmed every byte is it renamed over name, read back through the
        same handle and closed, in a second. The read goes to the server as a separate read would (the rename's
        status says the name now holds this file), and it compares the same bytes. Returns the size and time
        the close reported."""
        if len(data) >= COMPOUND_DATA_LIMIT:
            self.write_atomic(name, data)
            return self.read_verified(name, data)
        closed, back = self._replace_via_temp(name, data, read_back=len(data) + 1)  # one byte more: a longer file shows itself
        if back is None or closed is None:
            return self.read_verified(name, data)  # the read or the close failed after a good rename: read it by name
        require_written(name, back if closed.size == len(data) else None, data)
        return closed

    def _replace_via_temp(self, name: str, data: bytes, read_back: int) -> tuple[FileStat | None, bytes | None]:
        """The two compounds of write_atomic (see _rename_over for what they answer); on any failure before the
        rename our temporary file is deleted and the old file is untouched."""
        self._connect()
        temp = new_temp_name()
        raw = None
        renamed = False
        try:
            raw = self._open(temp)  # no request yet: the path resolved on the session's tree
            self._write_temp(raw, data)
            answer = self._rename_over(raw, name, read_back)
            renamed = True
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - made user-facing below, without credentials
            raise StoreError(explain_smb_error(exc, self.path, f"writing {name} in")) from None
        finally:
            if not renamed:
                self._discard(raw, temp)
        return answer

    def create_whole(self, name: str, data: bytes) -> FileStat | None:
        """A new small file created, written and closed in one round trip; None when name exists (or the data is
        too large for one request): the caller then replaces it atomically. Only for files that a torn write
        cannot make wrong, such as manifest records, which are ignored unless they parse and name themselves."""
        if len(data) > COMPOUND_DATA_LIMIT:
            return None
        self._connect()
        raw = self._open(name)
        try:
            return self._create_written(raw, data)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - made user-facing below, without credentials
            raise StoreError(explain_smb_error(exc, self.path, f"writing {name} in")) from None

    def _create_written(self, raw: t.Any, data: bytes) -> FileStat | None:
        # FILE_CREATE: never over an existing file. Readers may open it meanwhile (they find no record in a partial one).
        create = _create(raw, FilePipePrinterAccessMask.FILE_WRITE_DATA | FilePipePrinterAccessMask.FILE_WRITE_ATTRIBUTES,
                         ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_DELETE, CreateDisposition.FILE_CREATE)
        created, written, closed = _send_related(raw, [create, raw.fd.write(data, offset=0, send=False), raw.fd.close(get_attributes=True, send=False)])
        if isinstance(created, SMBResponseException) and SMBOSError(created.status, raw.name).errno == errno.EEXIST:
            return None
        for outcome in (created, written):
            if isinstance(outcome, Exception):
                raise outcome
        if written != len(data):
            raise StoreError(f"writing {ntpath.basename(raw.name)} in {self.path}: the server took {written} of {len(data)} bytes")
        if closed is None or isinstance(closed, Exception):
            return self.stat(ntpath.basename(raw.name))
        return FileStat(int(raw.fd.end_of_file), _filetime_to_ticks(raw.fd.last_write_time))

    def read_verified(self, name: str, data: bytes) -> FileStat:
        """Read name back in one round trip (open, read, close) and compare it with data; the size and time the
        open reported are what the manifest records. A file that differs raises StoreError."""
        if len(data) >= COMPOUND_DATA_LIMIT:
            return read_back(self, name, data)
        self._connect()
        try:
            back, stat = self._read_with_stat(name, len(data) + 1)  # one byte more: a longer file shows itself
        except Exception as exc:  # noqa: BLE001
            raise StoreError(explain_smb_error(exc, self.path, f"reading {name} back in")) from None
        require_written(name, back if stat.size == len(data) else None, data)
        return stat

    # -- compound requests ----------------------------------------------------

    def _open(self, name: str) -> t.Any:
        return SMBFileIO(self._full(name), mode="rb", port=self.port, connection_cache=self._pool)

    def _write_temp(self, raw: t.Any, data: bytes) -> None:
        # DELETE access: the same handle renames the file afterwards, and READ_DATA reads it back (write_verified).
        # No sharing while it is being written.
        access = (FilePipePrinterAccessMask.FILE_WRITE_DATA | FilePipePrinterAccessMask.FILE_WRITE_ATTRIBUTES | FilePipePrinterAccessMask.DELETE
                  | FilePipePrinterAccessMask.FILE_READ_DATA)
        create = _create(raw, access, 0, CreateDisposition.FILE_CREATE)
        created, written = _send_related(raw, [create, raw.fd.write(data, offset=0, send=False)])
        if isinstance(created, Exception):
            raise created
        if isinstance(written, Exception):
            raise written
        if written != len(data):
            raise StoreError(f"writing {ntpath.basename(raw.name)} in {self.path}: the server took {written} of {len(data)} bytes")

    def _rename_over(self, raw: t.Any, name: str, read_back: int = 0) -> tuple[FileStat | None, bytes | None]:
        """Rename the written temporary file over name, with read_back read up to that many bytes of it through
        the same handle, and close it, in one round trip. The size and time the close reported (the file's final
        ones: no request of their own), or None when the close failed; and the bytes read, or None when not asked
        or the read failed."""
        rename = FileRenameInformation()
        rename["replace_if_exists"] = True
        rename["file_name"] = ntpath.join(ntpath.dirname(raw.fd.file_name), name)
        reads = [raw.fd.read(0, read_back, send=False)] if read_back else []
        renamed, *back, closed = _send_related(raw, [_set_info(raw, rename), *reads, raw.fd.close(get_attributes=True, send=False)])
        if isinstance(renamed, Exception):
            raise renamed
        data = _bytes_read(back[0]) if back else None
        if closed is None or isinstance(closed, Exception):
            return None, data  # a failed close after a good rename leaves only a handle the session's logoff closes
        return FileStat(int(raw.fd.end_of_file), _filetime_to_ticks(raw.fd.last_write_time)), data

    def _discard(self, raw: t.Any, temp: str) -> None:
        """After a failure: delete our temporary file through its handle when it is still open, else by name."""
        if raw is not None and raw.fd.connected:
            disposition = FileDispositionInformation()
            disposition["delete_pending"] = True
            try:
                _send_related(raw, [_set_info(raw, disposition), raw.fd.close(send=False)])
            except Exception:  # noqa: BLE001 - cleanup must never hide the original error
                pass
        try:
            self.remove(temp)
        except Exception:  # noqa: BLE001 - likewise; absent is the normal case here
            pass

    def _read_with_stat(self, name: str, length: int) -> tuple[bytes | None, FileStat]:
        raw = self._open(name)
        create = _create(raw, FilePipePrinterAccessMask.FILE_READ_DATA | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES,
                         ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_DELETE, CreateDisposition.FILE_OPEN)
        created, back, _closed = _send_related(raw, [create, raw.fd.read(0, length, send=False), raw.fd.close(send=False)])
        if isinstance(created, Exception):
            if isinstance(created, SMBResponseException) and SMBOSError(created.status, name).errno == 2:
                return None, FileStat(0, 0)
            raise created
        if isinstance(back, EndOfFile):
            back = b""
        elif isinstance(back, Exception):
            raise back
        return bytes(back), FileStat(int(raw.fd.end_of_file), _filetime_to_ticks(raw.fd.last_write_time))


def _bytes_read(outcome: t.Any) -> bytes | None:
    """A compound's read answer: its bytes (none at the end of an empty file), or None when the read failed."""
    if isinstance(outcome, EndOfFile):
        return b""
    if isinstance(outcome, Exception):
        return None
    return bytes(outcome)


def _create(raw: t.Any, access: int, share: int, disposition: int) -> t.Any:
    """The CREATE request of a compound on raw's path (not sent: _send_related sends it with the rest)."""
    return raw.fd.create(
        ImpersonationLevel.Impersonation, access, FileAttributes.FILE_ATTRIBUTE_NORMAL, share, disposition,
        CreateOptions.FILE_NON_DIRECTORY_FILE, send=False,
    )


def _set_info(raw: t.Any, info: t.Any) -> tuple[t.Any, t.Callable[[t.Any], t.Any]]:
    request = SMB2SetInfoRequest()
    request["info_type"] = info.INFO_TYPE
    request["file_info_class"] = info.INFO_CLASS
    request["file_id"] = raw.fd.file_id
    request["buffer"] = info
    return request, raw.fd.connection.receive


def _send_related(raw: t.Any, actions: t.Sequence[tuple[t.Any, t.Callable[[t.Any], t.Any]]]) -> list[t.Any]:
    """Send (request, unpack) pairs as one related compound on raw's open (one round trip); each result, or the
    exception the server answered that step with, in order. Every response is received, failed or not, so none is
    left pending on the connection."""
    tree = raw.fd.tree_connect
    requests = raw.fd.connection.send_compound([request for request, _unpack in actions], tree.session.session_id, tree.tree_connect_id, related=True)
    outcomes: list[t.Any] = []
    for action, sent in zip(actions, requests):
        try:
            outcomes.append(action[1](sent))
        except SMBResponseException as exc:
            outcomes.append(exc)
    return outcomes


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
