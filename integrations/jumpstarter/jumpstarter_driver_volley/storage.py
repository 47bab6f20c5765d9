"""The `storage` child: the stock OpenDAL `fs` driver, confined to the TFTP root.

The stock driver hands paths to OpenDAL as they come, and OpenDAL's `fs` backend resolves
`..` against the host file system: with jumpstarter-driver-tftp 0.9.0,
`storage.write_bytes("../escape.txt", b"x")` writes beside the root. `ConfinedOpendal`
checks every path before OpenDAL sees it and refuses, with a `ValueError` (a
`DriverInvalidArgument` on the client), any path that

- is absolute (only `/` itself, "the root", is accepted, so `storage.list("/")` works),
- has a `..` component (also with `\\` as separator, as TFTP clients send it),
- contains a NUL character, or
- leads outside the root through a symbolic link (checked on the resolved path).

Files written through it are made readable by everyone (`o+r`, whatever the umask): TFTP
serves them to anyone on the network anyway, and Volley, like tftpd-hpa and dnsmasq, may
be set to serve only world-readable files.

It also refines what `remove_created_on_close` removes: a file that already existed when
it was first written through the driver is not "created" and stays on close; directories
the driver had to create for a new file are removed again when they end up empty.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncGenerator
from uuid import UUID

from jumpstarter_driver_opendal.common import HashAlgo, Metadata, Mode
from jumpstarter_driver_opendal.driver import Opendal
from pydantic import validate_call

from jumpstarter.driver import export


class PathOutsideRoot(ValueError):
    """A storage path that would leave the TFTP root"""


def relative_path(path: str, root: str) -> str:
    """The path below `root` that `path` names, or PathOutsideRoot.

    Returns "" for the root itself. Symbolic links are resolved (as far as they exist) and
    must stay below the real root.
    """
    if not isinstance(path, str):
        path = os.fspath(path)
    if "\0" in path:
        raise PathOutsideRoot("path contains a NUL character")
    unified = path.replace("\\", "/")
    if unified.startswith("/"):
        if unified.strip("/") == "":
            return ""
        raise PathOutsideRoot(f"{path!r}: absolute paths are not accepted; paths are relative to the TFTP root")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PathOutsideRoot(f"{path!r}: '..' is not accepted; paths must stay inside the TFTP root")
    relative = "/".join(parts)
    real_root = os.path.realpath(root)
    resolved = os.path.realpath(os.path.join(real_root, relative))
    if resolved != real_root and not resolved.startswith(real_root.rstrip(os.sep) + os.sep):
        raise PathOutsideRoot(f"{path!r}: leads outside the TFTP root through a symbolic link")
    return relative


@dataclass(kw_only=True)
class ConfinedOpendal(Opendal):
    """OpenDAL `fs` storage that never leaves its root."""

    scheme: str = "fs"
    kwargs: dict[str, str] = field(default_factory=dict)

    # Paths that existed before the driver first wrote them: never removed on close.
    _preexisting: set[str] = field(init=False, default_factory=set)
    # Directories the driver created on the way to a new file: removed on close if empty.
    _created_dirs: set[str] = field(init=False, default_factory=set)
    # Files open for writing, by descriptor: made world-readable when closed.
    _writing: dict[UUID, str] = field(init=False, default_factory=dict)

    def __post_init__(self):
        if self.scheme != "fs":
            raise ValueError("ConfinedOpendal only supports the fs scheme")
        if "root" not in self.kwargs:
            raise ValueError("ConfinedOpendal needs kwargs['root']")
        super().__post_init__()

    @property
    def root(self) -> str:
        return os.path.abspath(self.kwargs["root"])

    def confine(self, path: str) -> str:
        """The root-relative path for `path`, or PathOutsideRoot (a ValueError)."""
        return relative_path(path, self.root)

    # Bookkeeping for remove_created_on_close ----------------------------------------

    def _missing_parents(self, relative: str) -> list[str]:
        missing = []
        parent = posixpath.dirname(relative)
        while parent:
            if not os.path.isdir(os.path.join(self.root, parent)):
                missing.append(parent)
            parent = posixpath.dirname(parent)
        return missing

    def before_create(self, relative: str) -> tuple[bool, list[str]]:
        """Note what exists before `relative` is written; pass the result to after_create."""
        normalized = self._normalize_path(relative)
        existed = os.path.lexists(os.path.join(self.root, relative))
        return existed and normalized not in self._created_paths, self._missing_parents(relative)

    def after_create(self, relative: str, before: tuple[bool, list[str]]) -> None:
        """Record `relative` as created by the driver unless it existed before."""
        preexisting, missing_parents = before
        normalized = self._normalize_path(relative)
        if preexisting:
            self._preexisting.add(normalized)
        if normalized in self._preexisting:
            self._created_paths.discard(normalized)
        else:
            self._created_paths.add(normalized)
        self._created_dirs.update(missing_parents)

    def make_readable(self, relative: str) -> None:
        """Add read permission for everyone to a regular file below the root."""
        full = os.path.join(self.root, relative)
        try:
            if os.path.isfile(full) and not os.path.islink(full):
                mode = os.stat(full).st_mode
                if mode & 0o444 != 0o444:
                    os.chmod(full, (mode & 0o7777) | 0o444)
        except OSError as error:
            self.logger.warning(f"cannot make {relative} readable for the TFTP server: {error.strerror}")

    def forget(self, relative: str) -> None:
        normalized = self._normalize_path(relative)
        self._created_paths.discard(normalized)
        self._preexisting.discard(normalized)

    # The exported OpenDAL calls, each with its paths confined -------------------------

    @export
    @validate_call(validate_return=True)
    async def open(self, /, path: str, mode: Mode) -> UUID:
        relative = self.confine(path)
        writing = mode in ("wb", "w", "ab", "a")
        before = self.before_create(relative) if writing else None
        fd = await super().open(path, mode)
        if before is not None:
            self.after_create(relative, before)
            self._writing[fd] = relative
        return fd

    @export
    @validate_call(validate_return=True)
    async def file_close(self, /, fd: UUID) -> None:
        await super().file_close(fd)
        relative = self._writing.pop(fd, None)
        if relative is not None:
            self.make_readable(relative)

    @export
    @validate_call(validate_return=True)
    async def stat(self, /, path: str) -> Metadata:
        self.confine(path)
        return await super().stat(path)

    @export
    @validate_call(validate_return=True)
    async def hash(self, /, path: str, algo: HashAlgo = "sha256") -> str:
        self.confine(path)
        return await super().hash(path, algo)

    @export
    @validate_call(validate_return=True)
    async def copy(self, /, source: str, target: str):
        self.confine(source)
        relative = self.confine(target)
        before = self.before_create(relative)
        await super().copy(source, target)
        self.after_create(relative, before)
        self.make_readable(relative)

    @export
    @validate_call(validate_return=True)
    async def rename(self, /, source: str, target: str):
        self.confine(source)
        relative = self.confine(target)
        before = self.before_create(relative)
        await super().rename(source, target)
        self.forget(self.confine(source))
        self.after_create(relative, before)

    @export
    @validate_call(validate_return=True)
    async def remove_all(self, /, path: str):
        if self.confine(path) == "":
            raise PathOutsideRoot("refusing to remove the TFTP root itself")
        await super().remove_all(path)

    @export
    @validate_call(validate_return=True)
    async def create_dir(self, /, path: str):
        relative = self.confine(path)
        before = self.before_create(relative)
        await super().create_dir(path)
        self.after_create(relative, before)

    @export
    @validate_call(validate_return=True)
    async def delete(self, /, path: str):
        relative = self.confine(path)
        await super().delete(path)
        self.forget(relative)

    @export
    @validate_call(validate_return=True)
    async def exists(self, /, path: str) -> bool:
        self.confine(path)
        return await super().exists(path)

    @export
    async def list(self, /, path: str) -> AsyncGenerator[str, None]:
        self.confine(path)
        async for entry in super().list(path):
            yield entry

    @export
    async def scan(self, /, path: str) -> AsyncGenerator[str, None]:
        self.confine(path)
        async for entry in super().scan(path):
            yield entry

    @export
    @validate_call(validate_return=True)
    async def presign_stat(self, /, path: str, expire_second: int):
        self.confine(path)
        return await super().presign_stat(path, expire_second)

    @export
    @validate_call(validate_return=True)
    async def presign_read(self, /, path: str, expire_second: int):
        self.confine(path)
        return await super().presign_read(path, expire_second)

    @export
    @validate_call(validate_return=True)
    async def presign_write(self, /, path: str, expire_second: int):
        self.confine(path)
        return await super().presign_write(path, expire_second)

    @export
    @validate_call(validate_return=True)
    def register_path(self, path: str) -> None:
        self._created_paths.add(self._normalize_path(self.confine(path)))

    async def copy_exporter_file(self, /, source: Path, target: str):
        """Copy a file of the exporter's into the root (used by jumpstarter-driver-flashers)."""
        relative = self.confine(target)
        before = self.before_create(relative)
        await super().copy_exporter_file(source, target)
        self.after_create(relative, before)
        self.make_readable(relative)

    def close(self):
        super().close()  # removes self._created_paths when remove_created_on_close is set
        if self.remove_created_on_close:
            for directory in sorted(self._created_dirs, key=lambda d: d.count("/"), reverse=True):
                try:
                    os.rmdir(os.path.join(self.root, directory))
                except OSError:
                    pass  # not empty (someone else's files) or already gone
