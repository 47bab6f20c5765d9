"""Volley as a Jumpstarter driver: a drop-in for `jumpstarter_driver_tftp.driver.Tftp`.

The stock driver runs a TFTP server written in Python inside the exporter. This one runs
`volley serve` as a child process with a generated configuration, and keeps the stock
driver's interface: the same configuration keys, the same `storage` child (confined to the
root here), the same client class (extended with the file API the Jumpstarter TFTP
documentation describes).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from dataclasses import dataclass, field

import anyio
import yaml

from . import process as _process
from . import settings as _settings
from .errors import FileNotFound, ServerNotRunning, TftpError, answering_remote_call
from .storage import ConfinedOpendal, PathOutsideRoot
from jumpstarter.common.ipaddr import get_ip_address
from jumpstarter.driver import Driver, export

__all__ = ["Volley", "TftpError", "ServerNotRunning", "FileNotFound"]

CHUNK_SIZE = 4 * 1024 * 1024
UPLOAD_PREFIX = ".volley-upload-"

# Volley's log levels, and the Python logging level each maps to.
_VOLLEY_LEVELS = {
    "trace": "DEBUG",
    "debug": "DEBUG",
    "info": "INFO",
    "notice": "INFO",
    "warning": "WARNING",
    "error": "ERROR",
    "critical": "CRITICAL",
}
_ALIASES = {"warn": "warning", "fatal": "critical"}

@dataclass(kw_only=True)
class Volley(Driver):
    """TFTP server driver for Jumpstarter, served by Volley.

    Attributes:
        root_dir (str): Directory served read-only. Created if missing. Defaults to "/var/lib/tftpboot".
        host (str): Address to bind. Empty: auto-detected as the stock driver does.
        port (int): UDP port. Defaults to 69; 0 picks a free port (see get_port()).
        remove_created_on_close (bool): Remove the files the driver created when it closes.
        volley_binary (str): The `volley` executable. Default: $VOLLEY_BINARY, else `volley` on PATH.
        log_level (str): Volley's log level (trace, debug, info, notice, warning, error,
            critical) and the driver logger's; Python's names (DEBUG, INFO...) work too.
        start_timeout (float): Seconds to wait for Volley to report ready.

    Volley's own settings pass through when set: the fields below that are Volley settings
    (max_block_size, max_window_size, ...), and any key of `settings` (a mapping of Volley's
    YAML keys to values). Which keys those are comes from the binary itself
    (`volley settings --json`); an unknown key in `settings` makes start() raise TftpError.
    """

    root_dir: str = "/var/lib/tftpboot"
    host: str = field(default="")
    port: int = 69
    remove_created_on_close: bool = True  # Clean up temporary boot files by default

    volley_binary: str | None = None
    start_timeout: float = 30.0

    max_block_size: int | None = None
    max_window_size: int | None = None
    single_port: bool | None = None
    mtu_clamp: bool | None = None
    retransmit_timeout_ms: int | None = None
    max_retransmit_timeout_ms: int | None = None
    max_retries: int | None = None
    max_transfers: int | None = None
    segmentation_offload: bool | None = None
    drain_timeout_ms: int | None = None
    settings: dict = field(default_factory=dict)

    _volley_log_level: str = field(init=False, default="info")
    _server: _process.VolleyProcess | None = field(init=False, default=None)
    _lock: threading.RLock = field(init=False, default_factory=threading.RLock)

    def __post_init__(self):
        level = _ALIASES.get(str(self.log_level).lower(), str(self.log_level).lower())
        if level not in _VOLLEY_LEVELS:
            raise ValueError(f"log_level {self.log_level!r}: expected one of {', '.join(_VOLLEY_LEVELS)}")
        self._volley_log_level = level
        self.log_level = _VOLLEY_LEVELS[level]

        if hasattr(super(), "__post_init__"):
            super().__post_init__()

        self.root_dir = os.path.abspath(self.root_dir)
        os.makedirs(self.root_dir, exist_ok=True)

        self.children["storage"] = ConfinedOpendal(
            scheme="fs",
            kwargs={"root": self.root_dir},
            remove_created_on_close=self.remove_created_on_close,
        )
        self.storage = self.children["storage"]

        if self.host == "":
            self.host = get_ip_address(logger=self.logger)

    @classmethod
    def client(cls) -> str:
        return "jumpstarter_driver_volley.client.VolleyServerClient"

    async def DriverCall(self, request, context):
        """:meta private: answer a remote call; our errors carry their class name across."""
        with answering_remote_call():
            return await super().DriverCall(request, context)

    # Server control ------------------------------------------------------------------

    def _binary(self) -> str:
        candidate = self.volley_binary or os.environ.get("VOLLEY_BINARY") or "volley"
        resolved = candidate if os.sep in candidate else shutil.which(candidate)
        if resolved is None or not os.access(resolved, os.X_OK) or os.path.isdir(resolved):
            raise TftpError(
                f"volley executable not found: {candidate!r} "
                "(set volley_binary in the driver configuration, or VOLLEY_BINARY, or put volley on PATH)"
            )
        return resolved

    def volley_configuration(self) -> dict:
        """The YAML configuration `volley serve --config` gets."""
        configuration = {
            "root_dir": self.root_dir,
            "host": self.host,
            "port": self.port,
            "log_level": self._volley_log_level,
            "log_format": "json",  # read by process.py as data
        }
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__ if not name.startswith("_")}
        configuration.update(_settings.pass_through(self._binary(), fields, self.settings, timeout=self.start_timeout))
        return configuration

    @export
    def start(self):
        """Start the TFTP server.

        Runs `volley serve` and returns once it serves on the configured host and port.
        If the server is already running, a warning is logged.

        Raises:
            TftpError: If Volley cannot start (its reason is the message) or is not ready in time
        """
        with self._lock:
            if self._server is not None and self._server.running:
                self.logger.warning("TFTP server is already running")
                return
            if self._server is not None:  # exited by itself since
                self._discard(self._server)

            binary = self._binary()
            try:
                os.makedirs(self.root_dir, exist_ok=True)
            except OSError as error:
                raise TftpError(f"cannot start: root_dir {self.root_dir}: {error.strerror}") from None
            workdir = _process.make_workdir()
            config_path = os.path.join(workdir, "volley.yaml")
            with open(config_path, "w") as f:
                yaml.safe_dump(self.volley_configuration(), f, sort_keys=False)

            server = _process.VolleyProcess(argv=[binary, "serve", "--config", config_path], logger=self.logger)
            try:
                ready = server.start(timeout=self.start_timeout, workdir=workdir)
            except BaseException:
                server.stop(timeout=5)
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            self._server = server
            self.logger.info(f"TFTP server started on {ready.host}:{ready.port} (volley pid {server.pid})")

    @export
    def stop(self):
        """Stop the TFTP server.

        Volley stops taking requests, lets transfers in flight finish (up to
        drain_timeout_ms) and exits.

        Raises:
            ServerNotRunning: If the server is not running
        """
        with self._lock:
            server = self._server
            if server is None or not server.running:
                if server is not None:
                    self.logger.warning(
                        f"volley (pid {server.pid}) had exited by itself with status {server.returncode}"
                    )
                    self._discard(server)
                raise ServerNotRunning("TFTP server is not running")
            drain = (self.drain_timeout_ms if self.drain_timeout_ms is not None else 5000) / 1000
            returncode = server.stop(timeout=drain + 5)
            self._discard(server)
            if returncode not in (0, None):
                self.logger.warning(f"volley exited with status {returncode}")
            self.logger.info("TFTP server stopped")

    def _discard(self, server):
        if server._tmpdir:
            shutil.rmtree(server._tmpdir, ignore_errors=True)
        if self._server is server:
            self._server = None

    @export
    def get_host(self) -> str:
        """Get the host address the server is bound to (as Volley reports it while running).

        Returns:
            str: The IP address or hostname
        """
        server = self._server
        if server is not None and server.running and server.ready is not None and server.ready.host:
            return server.ready.host
        return self.host

    @export
    def get_port(self) -> int:
        """Get the port number the server is listening on (the real one after port 0).

        Returns:
            int: The port number
        """
        server = self._server
        if server is not None and server.running and server.ready is not None:
            return server.ready.port
        return self.port

    def get_pid(self) -> int | None:
        """The process ID of the running `volley serve`, if any (exporter side only)."""
        server = self._server
        return server.pid if server is not None and server.running else None

    # Files -------------------------------------------------------------------------------

    def _relative(self, name: str) -> str:
        try:
            return self.storage.confine(name)
        except PathOutsideRoot as error:
            raise TftpError(str(error)) from None

    @export
    def list_files(self) -> list[str]:
        """List the files the server offers, as paths relative to the root ("boot/vmlinuz").

        Returns:
            list[str]: The files below the root directory, sorted
        """
        files = []
        root = self.root_dir
        for directory, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in filenames:
                if name.startswith(UPLOAD_PREFIX):
                    continue
                full = os.path.join(directory, name)
                relative = os.path.relpath(full, root).replace(os.sep, "/")
                try:
                    self.storage.confine(relative)  # drops symbolic links leading outside
                except PathOutsideRoot:
                    continue
                if os.path.isfile(full):
                    files.append(relative)
        return sorted(files)

    @export
    def delete_file(self, filename: str) -> str:
        """Delete a file from the TFTP server.

        Args:
            filename (str): Name of the file to delete (relative to the root)

        Returns:
            str: The filename that was deleted

        Raises:
            FileNotFound: If the specified file does not exist
            TftpError: If the deletion fails
        """
        relative = self._relative(filename)
        full = os.path.join(self.root_dir, relative)
        if relative == "" or not os.path.lexists(full):
            raise FileNotFound(f"File {filename} not found")
        if os.path.isdir(full) and not os.path.islink(full):
            raise TftpError(f"{filename} is a directory")
        try:
            os.unlink(full)
        except FileNotFoundError:
            raise FileNotFound(f"File {filename} not found") from None
        except OSError as error:
            raise TftpError(f"Failed to delete {filename}: {error.strerror}") from None
        self.storage.forget(relative)
        return filename

    @export
    def check_file_checksum(self, filename: str, client_checksum: str) -> bool:
        """Check whether the server holds `filename` with the given SHA-256.

        Args:
            filename (str): Name of the file to check
            client_checksum (str): Expected SHA-256, hexadecimal

        Returns:
            bool: True if the file exists and matches the checksum, False otherwise
        """
        full = os.path.join(self.root_dir, self._relative(filename))
        if not os.path.isfile(full):
            return False
        return _sha256_file(full) == client_checksum.lower()

    @export
    async def put_file(self, filename: str, src_stream, client_checksum: str) -> str:
        """Upload a file to the TFTP server (the client's put_file/put_local_file use this).

        The data goes to a temporary file beside the target, is checked against the
        SHA-256, and is renamed over the target: transfers already running keep the old
        content, new ones get the new.

        Args:
            filename (str): Name of the file to create, relative to the root
            src_stream: Source stream to read the file data from
            client_checksum (str): SHA-256 of the data, hexadecimal

        Returns:
            str: The filename that was uploaded

        Raises:
            TftpError: If the upload fails, the name is refused, or the checksum differs
        """
        relative = self._relative(filename)
        if relative == "" or relative.endswith("/"):
            raise TftpError(f"{filename!r} is not a file name")
        full = os.path.join(self.root_dir, relative)
        if os.path.isdir(full):
            raise TftpError(f"{filename} is a directory")
        before = self.storage.before_create(relative)
        directory = os.path.dirname(full)
        temporary = os.path.join(directory, f"{UPLOAD_PREFIX}{os.urandom(6).hex()}")
        hasher = hashlib.sha256()
        try:
            os.makedirs(directory, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            os.fchmod(descriptor, 0o644)  # whatever the umask: the TFTP server must be able to read it
            async with await anyio.open_file(descriptor, "wb") as destination:
                async with self.resource(src_stream) as source:
                    async for chunk in source:
                        hasher.update(chunk)
                        await destination.write(chunk)
            if hasher.hexdigest() != client_checksum.lower():
                raise TftpError(
                    f"Failed to upload {filename}: checksum mismatch "
                    f"(received {hasher.hexdigest()}, expected {client_checksum})"
                )
            os.replace(temporary, full)
        except TftpError:
            _unlink_quietly(temporary)
            raise
        except Exception as error:
            _unlink_quietly(temporary)
            raise TftpError(f"Failed to upload {filename}: {error}") from error
        self.storage.after_create(relative, before)
        return filename

    # Lifecycle --------------------------------------------------------------------------

    def close(self):
        with self._lock:
            if self._server is not None and self._server.running:
                try:
                    self.stop()
                except TftpError as error:
                    self.logger.error(f"Error stopping the TFTP server: {error}")
            elif self._server is not None:
                self._discard(self._server)
        super().close()


def _sha256_file(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def _unlink_quietly(path: str):
    try:
        os.unlink(path)
    except OSError:
        pass
