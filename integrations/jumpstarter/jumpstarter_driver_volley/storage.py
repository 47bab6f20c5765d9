"""The `storage` child: the OpenDAL driver interface, served by Volley's control plane.

Clients see the stock `OpendalClient` (`write_bytes`, `write_from_path`, `read_bytes`,
`list`, `stat`, `hash`, `copy`, …), as with jumpstarter-driver-tftp, whose `storage` is
OpenDAL's `fs` backend on the root. Here every call is a request to the `volley serve`
the driver runs, so Volley decides what a path means and whether it may be reached:
`openat2` beneath the root, names with `..` or through a symbolic link that leaves the
root refused (a `ValueError`, which a client sees as `DriverInvalidArgument`), uploads
atomic and world-readable, and what the driver writes removed on close through the
driver's control-plane session (`remove_created_on_close`).

What Volley's store does not have, this does not pretend to have:
- Files are streamed, not seekable: a file is written in one go from `open(…, "wb")` to
  its close (it appears then, complete), and read from its start.
- Directories exist as the files in them do: `create_dir` checks the path and returns,
  and the directory appears with its first file; `remove_all` removes the files below.
- There are no presigned URLs (neither has OpenDAL's `fs`), and no appending (OpenDAL's
  driver interface has only "rb" and "wb").
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import anyio
from jumpstarter_driver_opendal.common import Capability, HashAlgo, Metadata, Mode, PresignedRequest
from pydantic import validate_call

from .control import CHUNK_SIZE, ControlError, ControlPlane, FileInfo
from jumpstarter.driver import Driver, export


class PathOutsideRoot(ValueError):
    """A storage path Volley refuses: outside the root, through a link that leaves it, or malformed"""


def _refused(error: ControlError, path: str) -> Exception:
    """The exception a refused control-plane call becomes."""
    if error.status == 403:
        return PathOutsideRoot(f"{path!r}: {error.message} (paths are relative to the TFTP root and stay inside it)")
    if error.status == 404:
        return FileNotFoundError(f"{path}: not found")
    return OSError(f"{path}: {error.message}")


def _name(path: str) -> str:
    """`path` as a file name for Volley (trailing separators dropped; Volley checks the rest)."""
    return str(path).rstrip("/")


def _is_root(path: str) -> bool:
    return str(path).replace("\\", "/").strip("/") in ("", ".")


def _directory_prefix(path: str) -> str:
    """`boot/efi/` for `boot/efi`, `./boot/efi/` and `/boot/efi`; "" for the root."""
    if _is_root(path):
        return ""
    return posixpath.normpath(str(path).replace("\\", "/")).strip("/") + "/"


@dataclass
class _Writer:
    """A file open for writing: one streamed upload, fed by file_write, finished by file_close."""

    name: str
    send: Any
    upload: asyncio.Task
    written: int = 0
    closed: bool = False


@dataclass
class _Reader:
    """A file open for reading: its body, read from the start by file_read."""

    name: str
    size: int
    read: int = 0
    closed: bool = False


@dataclass(kw_only=True)
class VolleyStorage(Driver):
    """OpenDAL's driver interface over Volley's control plane (see the module's documentation)."""

    # Returns the control plane and the session uploads are recorded in (None: keep them),
    # starting Volley if it does not run yet. Set by the Volley driver.
    connect: Any = None
    # Returns the files the driver's session holds to remove on close (what
    # get_created_resources reports), without starting Volley. Set by the driver.
    created: Any = None

    _files: dict[UUID, _Writer | _Reader] = field(init=False, default_factory=dict)

    @classmethod
    def client(cls) -> str:
        return "jumpstarter_driver_opendal.client.OpendalClient"

    def _control(self) -> tuple[ControlPlane, str | None]:
        connect: Callable[[], tuple[ControlPlane, str | None]] = self.connect
        return connect()

    async def _head(self, path: str) -> FileInfo | None:
        control, _ = await anyio.to_thread.run_sync(self._control)
        try:
            return await anyio.to_thread.run_sync(control.head, _name(path))
        except ControlError as error:
            raise _refused(error, path) from None

    async def _files_below(self, path: str) -> list[dict]:
        """The regular files under the directory `path` (all of them for the root)."""
        control, _ = await anyio.to_thread.run_sync(self._control)
        prefix = _directory_prefix(path)
        return [entry for entry in await anyio.to_thread.run_sync(control.list_files) if entry["path"].startswith(prefix)]

    async def _upload(self, path: str, chunks) -> None:
        control, session = await anyio.to_thread.run_sync(self._control)
        try:
            await control.put(_name(path), chunks, session=session)
        except ControlError as error:
            raise _refused(error, path) from None

    async def _stream(self, path: str) -> AsyncGenerator[bytes, None]:
        control, _ = await anyio.to_thread.run_sync(self._control)
        try:
            async with control.get(_name(path)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except ControlError as error:
            raise _refused(error, path) from None

    # Files ------------------------------------------------------------------------------

    @export
    @validate_call(validate_return=True)
    async def open(self, /, path: str, mode: Mode) -> UUID:
        info = await self._head(path)  # refuses paths outside the root before anything is written
        fd = uuid4()
        if mode == "rb":
            if info is None:
                raise FileNotFoundError(f"{path}: not found")
            self._files[fd] = _Reader(name=path, size=info.size)
        else:
            send, receive = anyio.create_memory_object_stream[bytes](max_buffer_size=4)

            async def chunks():
                async with receive:
                    async for chunk in receive:
                        yield chunk

            async def upload():
                try:
                    await self._upload(path, chunks())
                finally:
                    receive.close()  # a file_write still sending learns that the upload is over

            upload = asyncio.ensure_future(upload())
            self._files[fd] = _Writer(name=path, send=send, upload=upload)
        return fd

    def _file(self, fd: UUID) -> _Writer | _Reader:
        file = self._files.get(fd)
        if file is None:
            raise ValueError(f"no open file {fd}")
        return file

    @export
    @validate_call(validate_return=True)
    async def file_read(self, /, fd: UUID, dst: Any) -> None:
        file = self._file(fd)
        if not isinstance(file, _Reader) or file.closed:
            raise ValueError("the file is not open for reading")
        if file.read:
            raise ValueError("the file has been read; open it again to read it again")
        async with self.resource(dst) as destination:
            async for chunk in self._stream(file.name):
                file.read += len(chunk)
                await destination.send(chunk)

    @export
    @validate_call(validate_return=True)
    async def file_write(self, /, fd: UUID, src: Any) -> None:
        file = self._file(fd)
        if not isinstance(file, _Writer) or file.closed:
            raise ValueError("the file is not open for writing")
        async with self.resource(src) as source:
            async for chunk in source:
                try:
                    await file.send.send(chunk)
                except anyio.BrokenResourceError:
                    break  # the upload was refused or failed: file_close says why
                file.written += len(chunk)

    @export
    @validate_call(validate_return=True)
    async def file_seek(self, /, fd: UUID, pos: int, whence: int = 0) -> int:
        here = self._position(fd)
        target = pos if whence == 0 else here + pos if whence == 1 else None
        if target != here:
            raise ValueError("files of Volley's storage are streamed, not seekable")
        return here

    @export
    @validate_call(validate_return=True)
    async def file_tell(self, /, fd: UUID) -> int:
        return self._position(fd)

    def _position(self, fd: UUID) -> int:
        file = self._file(fd)
        return file.written if isinstance(file, _Writer) else file.read

    @export
    @validate_call(validate_return=True)
    async def file_close(self, /, fd: UUID) -> None:
        file = self._files.pop(fd, None)
        if file is None or file.closed:
            return
        file.closed = True
        if isinstance(file, _Writer):
            await file.send.aclose()
            await file.upload  # the upload's own error (a refused path, a full disk) surfaces here

    @export
    @validate_call(validate_return=True)
    async def file_closed(self, /, fd: UUID) -> bool:
        return fd not in self._files

    @export
    @validate_call(validate_return=True)
    async def file_readable(self, /, fd: UUID) -> bool:
        return isinstance(self._file(fd), _Reader)

    @export
    @validate_call(validate_return=True)
    async def file_seekable(self, /, fd: UUID) -> bool:
        self._file(fd)
        return False

    @export
    @validate_call(validate_return=True)
    async def file_writable(self, /, fd: UUID) -> bool:
        return isinstance(self._file(fd), _Writer)

    # Paths ------------------------------------------------------------------------------

    @export
    @validate_call(validate_return=True)
    async def stat(self, /, path: str) -> Metadata:
        directory = Metadata(
            content_disposition=None, content_length=0, content_md5=None, content_type=None, etag=None,
            mode={"entry_is_file": False, "entry_is_dir": True},
        )
        if _is_root(path):
            return directory
        try:
            info = await self._head(path)
        except OSError:
            info = None  # not a regular file: a directory, if it holds files (below)
            if not await self._files_below(path):
                raise
        if info is not None and not str(path).endswith("/"):
            return Metadata(
                content_disposition=None, content_length=info.size, content_md5=None,
                content_type="application/octet-stream", etag=f'"{info.sha256}"',
                mode={"entry_is_file": True, "entry_is_dir": False},
            )
        if await self._files_below(path):
            return directory
        raise FileNotFoundError(f"{path}: not found")

    @export
    @validate_call(validate_return=True)
    async def hash(self, /, path: str, algo: HashAlgo = "sha256") -> str:
        if algo == "sha256":
            info = await self._head(path)
            if info is None:
                raise FileNotFoundError(f"{path}: not found")
            return info.sha256
        digest = hashlib.md5()
        async for chunk in self._stream(path):
            digest.update(chunk)
        return digest.hexdigest()

    @export
    @validate_call(validate_return=True)
    async def copy(self, /, source: str, target: str):
        if await self._head(source) is None:  # refuses either path before anything is read or written
            raise FileNotFoundError(f"{source}: not found")
        await self._head(target)
        await self._upload(target, self._stream(source))

    @export
    @validate_call(validate_return=True)
    async def rename(self, /, source: str, target: str):
        """A copy, then the source deleted (the target appears complete, as with every upload)."""
        await self.copy(source, target)
        await self.delete(source)

    @export
    @validate_call(validate_return=True)
    async def remove_all(self, /, path: str):
        if _is_root(path):
            raise PathOutsideRoot("refusing to remove the TFTP root itself")
        await self.stat(path)  # refuses paths outside the root; FileNotFoundError when missing
        prefix = _directory_prefix(path)
        control, _ = await anyio.to_thread.run_sync(self._control)
        names = [entry["path"] for entry in await self._files_below(path)]
        if not names and not str(path).endswith("/"):
            names = [prefix.rstrip("/")]  # a file
        for name in names:
            await self._delete(control, name)

    @export
    @validate_call(validate_return=True)
    async def create_dir(self, /, path: str):
        """Checks `path` with Volley; the directory itself appears with its first file."""
        if _is_root(path):
            return
        try:
            info = await self._head(path)
        except PathOutsideRoot:
            raise
        except OSError:
            return  # there, and not a regular file: a directory already
        if info is not None:
            raise FileExistsError(f"{path}: a file of that name exists")

    @export
    @validate_call(validate_return=True)
    async def delete(self, /, path: str):
        control, _ = await anyio.to_thread.run_sync(self._control)
        await self._delete(control, path)

    async def _delete(self, control: ControlPlane, path: str):
        try:
            await anyio.to_thread.run_sync(control.delete, _name(path))
        except ControlError as error:
            if error.status != 404:  # deleting what is not there succeeds, as in OpenDAL
                raise _refused(error, path) from None

    @export
    @validate_call(validate_return=True)
    async def exists(self, /, path: str) -> bool:
        try:
            await self.stat(path)
            return True
        except FileNotFoundError:
            return False

    @export
    async def list(self, /, path: str) -> AsyncGenerator[str, None]:
        """The files and directories (with a trailing `/`) directly in the directory `path`."""
        if not _is_root(path):
            await self.stat(path)
        prefix = _directory_prefix(path)
        seen = set()
        for entry in await self._files_below(path):
            rest = entry["path"][len(prefix):]
            child = prefix + (rest.split("/", 1)[0] + "/" if "/" in rest else rest)
            if child not in seen:
                seen.add(child)
                yield child

    @export
    async def scan(self, /, path: str) -> AsyncGenerator[str, None]:
        """Every file below the directory `path`, and the directories on the way (with a trailing `/`)."""
        if not _is_root(path):
            await self.stat(path)
        prefix = _directory_prefix(path)
        seen = set()
        for entry in await self._files_below(path):
            parts = entry["path"][len(prefix):].split("/")
            for depth in range(1, len(parts)):
                directory = prefix + "/".join(parts[:depth]) + "/"
                if directory not in seen:
                    seen.add(directory)
                    yield directory
            yield entry["path"]

    @export
    @validate_call(validate_return=True)
    async def presign_stat(self, /, path: str, expire_second: int) -> PresignedRequest:
        raise NotImplementedError("Volley's storage has no presigned URLs")

    @export
    @validate_call(validate_return=True)
    async def presign_read(self, /, path: str, expire_second: int) -> PresignedRequest:
        raise NotImplementedError("Volley's storage has no presigned URLs")

    @export
    @validate_call(validate_return=True)
    async def presign_write(self, /, path: str, expire_second: int) -> PresignedRequest:
        raise NotImplementedError("Volley's storage has no presigned URLs")

    @export
    @validate_call(validate_return=True)
    async def capability(self, /) -> Capability:
        return Capability(
            stat=True, stat_with_if_match=False, stat_with_if_none_match=False,
            read=True, read_with_if_match=False, read_with_if_none_match=False,
            read_with_override_cache_control=False, read_with_override_content_disposition=False,
            read_with_override_content_type=False,
            write=True, write_can_multi=True, write_can_empty=True, write_can_append=False,
            write_with_content_type=False, write_with_content_disposition=False, write_with_cache_control=False,
            write_multi_max_size=None, write_multi_min_size=None, write_total_max_size=None,
            create_dir=True, delete=True, copy=True, rename=True,
            list=True, list_with_limit=False, list_with_start_after=False, list_with_recursive=True,
            presign=False, presign_read=False, presign_stat=False, presign_write=False,
            shared=False, blocking=False,
        )

    async def copy_exporter_file(self, /, source: Path, target: str):
        """Copies a file of the exporter's into the root (used by jumpstarter-driver-flashers)."""

        async def chunks():
            async with await anyio.open_file(source, "rb") as file:
                while chunk := await file.read(CHUNK_SIZE):
                    yield chunk

        await self._head(target)
        await self._upload(target, chunks())

    @export
    @validate_call(validate_return=True)
    def register_path(self, path: str) -> None:
        raise NotImplementedError(
            "register_path: Volley removes on close what was written through the driver; "
            "write the file through storage or put_file instead"
        )

    @export
    async def get_created_resources(self) -> set[str]:
        """The files written through the driver that it will remove on close: Volley's session
        holds them (empty without remove_created_on_close, or before anything was written)."""
        if self.created is None:
            return set()
        try:
            return set(await anyio.to_thread.run_sync(self.created))
        except (OSError, ControlError):
            return set()
