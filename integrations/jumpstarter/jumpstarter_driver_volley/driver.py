"""Volley as a Jumpstarter driver: a drop-in for `jumpstarter_driver_tftp.driver.Tftp`.

The stock driver runs a TFTP server written in Python inside the exporter. This one runs
`volley serve` as a child process with a generated configuration, and keeps the stock
driver's interface: the same configuration keys, the same `storage` child, the same client
class (extended with the file API the Jumpstarter TFTP documentation describes).

One `volley serve` runs from the driver's first call until it closes, with its control
plane on a unix socket in the driver's private directory. Every file operation is a
control-plane call, so Volley's store confines, writes and checks files, and a
control-plane session removes what the driver created when it closes
(`remove_created_on_close`). start() and stop() start and stop its TFTP service.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field

import anyio
import yaml

from . import process as _process
from . import settings as _settings
from .control import ControlError, ControlPlane
from .errors import FileNotFound, ServerNotRunning, TftpError, TransferFailed, TransferTimeout, answering_remote_call
from .storage import VolleyStorage
from jumpstarter.common.ipaddr import get_ip_address
from jumpstarter.driver import Driver, export

__all__ = ["Volley", "TftpError", "ServerNotRunning", "FileNotFound", "TransferFailed", "TransferTimeout"]

# The control-plane session that holds what the driver created lives this long without a
# heartbeat (the API's maximum), and is renewed every SESSION_RENEWAL seconds while the driver lives.
SESSION_TTL = 86400
SESSION_RENEWAL = 3600

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
    # The running `volley serve`, its control plane and session, and the TFTP address while serving.
    _server: _process.VolleyProcess | None = field(init=False, default=None)
    _control: ControlPlane | None = field(init=False, default=None)
    _session: str | None = field(init=False, default=None)
    _serving: tuple[str, int] | None = field(init=False, default=None)
    _renewals: threading.Event | None = field(init=False, default=None)
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

        self.children["storage"] = VolleyStorage(connect=self._connect)
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

    # The volley process ---------------------------------------------------------------

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
        """The YAML configuration `volley serve --config` gets (without the control plane's socket)."""
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

    def _connect(self) -> tuple[ControlPlane, str | None]:
        """The control plane and the session to record uploads in, starting Volley if needed."""
        with self._lock:
            self._ensure_process()
            return self._control, self._session

    def _ensure_process(self) -> bool:
        """Runs `volley serve` (TFTP stopped, control plane up) unless it runs; True if it was started now."""
        if self._server is not None and self._server.running:
            return False
        if self._server is not None:  # exited by itself since
            if self._session is not None:
                self.logger.warning(
                    f"volley (pid {self._server.pid}) exited by itself: the files the driver created "
                    "before will not be removed on close"
                )
            self._discard(self._server)

        binary = self._binary()
        try:
            os.makedirs(self.root_dir, exist_ok=True)
        except OSError as error:
            raise TftpError(f"cannot start: root_dir {self.root_dir}: {error.strerror}") from None
        configuration = self.volley_configuration()  # refuses unknown settings before anything is made
        workdir = _process.make_workdir()
        control = ControlPlane(os.path.join(workdir, "control.sock"))
        configuration["control_listen"] = f"unix:{control.path}"
        configuration["start_stopped"] = True
        config_path = os.path.join(workdir, "volley.yaml")
        with open(config_path, "w") as f:
            yaml.safe_dump(configuration, f, sort_keys=False)

        server = _process.VolleyProcess(argv=[binary, "serve", "--config", config_path], logger=self.logger)
        try:
            server.start(timeout=self.start_timeout, workdir=workdir)
            try:
                control.wait_until_answering(self.start_timeout)
            except OSError as error:
                raise TftpError(f"volley's control plane did not answer on {control.path}: {error}") from None
            try:
                session = control.create_session(SESSION_TTL) if self.remove_created_on_close else None
            except ControlError as error:
                raise TftpError(f"volley's control plane refused a session: {error.message}") from None
        except BaseException:
            server.stop(timeout=5)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self._server, self._control, self._session = server, control, session
        if session is not None:
            self._renewals = threading.Event()
            threading.Thread(
                target=self._renew, args=(control, session, self._renewals), name="volley-session", daemon=True
            ).start()
        self.logger.debug(f"volley (pid {server.pid}) runs; control plane on {control.path}")
        return True

    def _renew(self, control: ControlPlane, session: str, stopped: threading.Event):
        while not stopped.wait(SESSION_RENEWAL):
            try:
                control.renew_session(session)
            except (OSError, ControlError) as error:
                self.logger.warning(f"cannot renew the control-plane session: {error}")

    def _discard(self, server):
        if self._renewals is not None:
            self._renewals.set()
            self._renewals = None
        if server._tmpdir:
            shutil.rmtree(server._tmpdir, ignore_errors=True)
        if self._server is server:
            self._server, self._control, self._session, self._serving = None, None, None, None

    def _tftp_running(self) -> bool:
        if self._server is None or not self._server.running:
            return False
        try:
            return bool(self._control.server()["running"])
        except (OSError, ControlError):
            return False

    # Server control ------------------------------------------------------------------

    @export
    def start(self):
        """Start the TFTP server.

        Returns once Volley serves on the configured host and port. If the server is
        already running, a warning is logged.

        Raises:
            TftpError: If Volley cannot start (its reason is the message) or is not ready in time
        """
        with self._lock:
            started_now = self._ensure_process()
            if self._tftp_running():
                self.logger.warning("TFTP server is already running")
                return
            try:
                status = self._control.start_server()
            except (OSError, ControlError) as error:
                if started_now:  # nothing else needs it yet
                    self._stop_process()
                reason = error.message if isinstance(error, ControlError) else str(error)
                raise TftpError(f"cannot start: {reason}") from None
            self._serving = (status["host"], int(status["port"]))
            self.logger.info(f"TFTP server started on {status['host']}:{status['port']} (volley pid {self._server.pid})")

    @export
    def stop(self):
        """Stop the TFTP server.

        Volley stops taking requests and lets transfers in flight finish (up to
        drain_timeout_ms); stop() returns when they have. The `volley serve` process
        ends too, unless it holds files the driver created, to be removed on close; the
        file API and storage work either way.

        Raises:
            ServerNotRunning: If the server is not running
        """
        with self._lock:
            if not self._tftp_running():
                server = self._server
                if server is not None and not server.running:
                    self.logger.warning(
                        f"volley (pid {server.pid}) had exited by itself with status {server.returncode}"
                    )
                    self._discard(server)
                raise ServerNotRunning("TFTP server is not running")
            self._serving = None
            if not self._holds_created_files():
                self._stop_process()  # SIGTERM: Volley drains, then exits
                self.logger.info("TFTP server stopped")
                return
            try:
                self._control.stop_server()
            except ControlError as error:
                if error.status != 409:  # stopped in the meantime
                    raise TftpError(f"cannot stop: {error.message}") from None
            self._wait_until_stopped(self._drain_seconds() + 5)
            self.logger.info("TFTP server stopped; volley runs on for the files to remove on close")

    def _drain_seconds(self) -> float:
        return (self.drain_timeout_ms if self.drain_timeout_ms is not None else 5000) / 1000

    def _holds_created_files(self) -> bool:
        """Whether the session holds files to remove on close (then Volley must live until then)."""
        if self._session is None:
            return False
        try:
            return bool(self._control.session_files(self._session))
        except (OSError, ControlError):
            return True  # keep it rather than lose what it would remove

    def _wait_until_stopped(self, timeout: float):
        deadline = time.monotonic() + timeout
        while self._tftp_running():
            if time.monotonic() >= deadline:
                self.logger.warning(f"the TFTP service still drains {timeout:.0f} s after stop()")
                return
            time.sleep(0.02)

    def _stop_process(self):
        """Ends the session (removing what it created) and stops `volley serve`."""
        server = self._server
        if server is None:
            return
        if server.running and self._session is not None:
            try:
                removed = self._control.end_session(self._session)
                if removed:
                    self.logger.info(f"removed {len(removed)} file(s) the driver created: {', '.join(removed)}")
            except (OSError, ControlError) as error:
                self.logger.error(f"cannot remove the files the driver created: {error}")
        if server.running:
            returncode = server.stop(timeout=self._drain_seconds() + 5)
            if returncode not in (0, None):
                self.logger.warning(f"volley exited with status {returncode}")
        self._discard(server)

    @export
    def get_host(self) -> str:
        """Get the host address the server is bound to (as Volley reports it while running).

        Returns:
            str: The IP address or hostname
        """
        serving = self._serving
        if serving is not None and serving[0] and self._server is not None and self._server.running:
            return serving[0]
        return self.host

    @export
    def get_port(self) -> int:
        """Get the port number the server is listening on (the real one after port 0).

        Returns:
            int: The port number
        """
        serving = self._serving
        if serving is not None and self._server is not None and self._server.running:
            return serving[1]
        return self.port

    def get_pid(self) -> int | None:
        """The process ID of the running `volley serve`, if any (exporter side only)."""
        server = self._server
        return server.pid if server is not None and server.running else None

    # Files -------------------------------------------------------------------------------

    def _file_error(self, error: ControlError, filename: str, doing: str) -> TftpError:
        if error.status == 404:
            return FileNotFound(f"File {filename} not found")
        if error.status == 403:
            return TftpError(f"{filename!r}: outside the TFTP root or not allowed ({error.message})")
        return TftpError(f"Failed to {doing} {filename}: {error.message}")

    @export
    def list_files(self) -> list[str]:
        """List the files the server offers, as paths relative to the root ("boot/vmlinuz").

        Returns:
            list[str]: The files below the root directory, sorted
        """
        control, _ = self._connect()
        try:
            return [entry["path"] for entry in control.list_files()]
        except ControlError as error:
            raise TftpError(f"Failed to list the files: {error.message}") from None

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
        control, _ = self._connect()
        try:
            control.delete(filename)
        except ControlError as error:
            raise self._file_error(error, filename, "delete") from None
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
        control, _ = self._connect()
        try:
            info = control.head(filename)
        except ControlError as error:
            if error.status == 403:
                raise self._file_error(error, filename, "check") from None
            return False  # not a regular file
        return info is not None and info.sha256 == client_checksum.lower()

    @export
    async def put_file(self, filename: str, src_stream, client_checksum: str) -> str:
        """Upload a file to the TFTP server (the client's put_file/put_local_file use this).

        Volley writes the data to a temporary file beside the target, checks it against the
        SHA-256, and renames it over the target: transfers already running keep the old
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
        control, session = await anyio.to_thread.run_sync(self._connect)
        async with self.resource(src_stream) as source:

            async def chunks():
                async for chunk in source:
                    yield chunk

            try:
                await control.put(filename, chunks(), sha256=client_checksum, session=session)
            except ControlError as error:
                if error.status == 422:
                    raise TftpError(f"Failed to upload {filename}: {error.message}") from None
                raise self._file_error(error, filename, "upload") from None
        return filename

    # Watching the boot -----------------------------------------------------------------

    @export
    async def wait_for_transfer(self, path: str, client: str | None = None, timeout: float = 300) -> dict:
        """Wait until a client has fetched `path`: power a board on, then wait for its kernel.

        Counts transfers that end after the call. A UEFI size probe (the client reads tsize
        and ends the transfer) is not an end: the fetch that follows it is.

        Args:
            path (str): The file as clients ask for it; a glob, as in Volley's rules ("boot/*")
            client (str): Only this client address or CIDR range ("10.1.0.7", "10.1.0.0/16")
            timeout (float): Seconds to wait

        Returns:
            dict: The transfer's `finished` event (client, file, options, bytes, duration_s, …)

        Raises:
            TransferFailed: If the transfer ended without delivering the file (timed out, aborted)
            TransferTimeout: If no transfer of it ended within `timeout` seconds
        """
        control, _ = await anyio.to_thread.run_sync(self._connect)
        try:
            with anyio.fail_after(timeout):
                async for _, event in control.events(path=path, client=client, type="finished"):
                    outcome = event.get("outcome")
                    if outcome == "delivered":
                        return event
                    if outcome == "size_probe":
                        continue
                    raise TransferFailed(
                        f"{event.get('file')} to {event.get('client')}: {event.get('reason') or outcome}"
                    )
        except TimeoutError:
            raise TransferTimeout(f"no client fetched {path} within {timeout:g} s") from None
        except ControlError as error:
            raise TftpError(f"cannot wait for {path}: {error.message}") from None
        raise TftpError(f"volley stopped before a client fetched {path}")

    @export
    def transfers(self) -> list[dict]:
        """The transfers in flight, oldest first: client, file, started, blksize, windowsize, tsize.

        Returns:
            list[dict]: One entry per transfer in flight
        """
        control, _ = self._connect()
        try:
            return control.transfers()
        except ControlError as error:
            raise TftpError(f"Failed to list the transfers: {error.message}") from None

    # Lifecycle --------------------------------------------------------------------------

    def close(self):
        with self._lock:
            self._stop_process()
        super().close()
