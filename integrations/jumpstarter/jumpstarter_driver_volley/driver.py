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
With `http_port`, the same process also serves the root over HTTP.

`VolleyHttp` (a drop-in for `jumpstarter_driver_http.driver.HttpServer`) lives in
`http_server.py` and is importable from here, as the exporter configuration names it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import anyio

from . import settings as _settings
from .child import VolleyChild, base_url, find_binary, http_listen, set_up_root_and_storage
from .control import ControlError, ControlPlane
from .errors import FileNotFound, ServerNotRunning, TagsRemoteErrors, TftpError, TransferFailed, TransferTimeout
from jumpstarter.common.ipaddr import get_ip_address
from jumpstarter.driver import Driver, export

__all__ = [
    "Volley",
    "VolleyHttp",
    "TftpError",
    "ServerNotRunning",
    "FileNotFound",
    "TransferFailed",
    "TransferTimeout",
    "HttpServerError",
]

@dataclass(kw_only=True)
class Volley(TagsRemoteErrors, Driver):
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
        http_port (int): Also serve the root over HTTP on host:http_port (0 picks a free
            port; see get_url()). Default None: no HTTP.

    Volley's own settings pass through when set: the fields below that are Volley settings
    (max_block_size, max_window_size, ...), and any key of `settings` (a mapping of Volley's
    YAML keys to values). Which keys those are comes from the binary itself
    (`volley settings --json`); an unknown key in `settings` makes start() raise TftpError.
    """

    root_dir: str = "/var/lib/tftpboot"
    host: str = field(default="")
    port: int = 69
    remove_created_on_close: bool = True  # Clean up temporary boot files by default
    http_port: int | None = None

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
    # The running `volley serve` (its control plane and session), and the TFTP address while serving.
    _child: VolleyChild | None = field(init=False, default=None)
    _serving: tuple[str, int] | None = field(init=False, default=None)
    _lock: threading.RLock = field(init=False, default_factory=threading.RLock)

    def __post_init__(self):
        self._volley_log_level, self.log_level = _settings.log_levels(self.log_level)

        if hasattr(super(), "__post_init__"):
            super().__post_init__()

        set_up_root_and_storage(self)

        if self.host == "":
            self.host = get_ip_address(logger=self.logger)

    @classmethod
    def client(cls) -> str:
        return "jumpstarter_driver_volley.client.VolleyServerClient"

    # The volley process ---------------------------------------------------------------

    def _binary(self) -> str:
        return find_binary(self.volley_binary)

    def volley_configuration(self) -> dict:
        """The YAML configuration `volley serve --config` gets (without the control plane's socket)."""
        configuration = {
            "root_dir": self.root_dir,
            "host": self.host,
            "port": self.port,
            "log_level": self._volley_log_level,
            "log_format": "json",  # read by process.py as data
        }
        if self.http_port is not None:
            configuration["http_listen"] = http_listen(self.host, self.http_port)
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__ if not name.startswith("_")}
        configuration.update(_settings.pass_through(self._binary(), fields, self.settings, timeout=self.start_timeout))
        return configuration

    def _connect(self) -> tuple[ControlPlane, str | None]:
        """The control plane and the session to record uploads in, starting Volley if needed."""
        with self._lock:
            self._ensure_process()
            return self._child.control, self._child.session

    def _created_files(self) -> list[str]:
        """What the session holds to remove on close (for storage's get_created_resources)."""
        child = self._child
        return child.created_files() if child is not None else []

    def _ensure_process(self) -> bool:
        """Runs `volley serve` (TFTP stopped, control plane up) unless it runs; True if it was started now."""
        if self._child is not None and self._child.running:
            return False
        if self._child is not None:  # exited by itself since
            if self._child.session is not None:
                self.logger.warning(
                    f"volley (pid {self._child.pid}) exited by itself: the files the driver created "
                    "before will not be removed on close"
                )
            self._discard(self._child)

        binary = self._binary()
        try:
            os.makedirs(self.root_dir, exist_ok=True)
        except OSError as error:
            raise TftpError(f"cannot start: root_dir {self.root_dir}: {error.strerror}") from None
        configuration = self.volley_configuration()  # refuses unknown settings before anything is made
        self._child = VolleyChild.spawn(
            binary,
            configuration,
            logger=self.logger,
            timeout=self.start_timeout,
            session=self.remove_created_on_close,
            http_listeners=0 if self.http_port is None else 1,
        )
        return True

    def _discard(self, child: VolleyChild):
        child.discard()
        if self._child is child:
            self._child, self._serving = None, None

    def _tftp_running(self) -> bool:
        return self._child is not None and self._child.tftp_running()

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
                status = self._child.control.start_server()
            except (OSError, ControlError) as error:
                if started_now:  # nothing else needs it yet
                    self._stop_process()
                reason = error.message if isinstance(error, ControlError) else str(error)
                raise TftpError(f"cannot start: {reason}") from None
            self._serving = (status["host"], int(status["port"]))
            self.logger.info(f"TFTP server started on {status['host']}:{status['port']} (volley pid {self._child.pid})")

    @export
    def stop(self):
        """Stop the TFTP server.

        Volley stops taking requests and lets transfers in flight finish (up to
        drain_timeout_ms); stop() returns when they have. The `volley serve` process
        ends too, unless it holds files the driver created, to be removed on close; the
        file API and storage work either way. With http_port, HTTP is served by the same
        process: it stops with it.

        Raises:
            ServerNotRunning: If the server is not running
        """
        with self._lock:
            if not self._tftp_running():
                child = self._child
                if child is not None and not child.running:
                    self.logger.warning(f"volley (pid {child.pid}) had exited by itself with status {child.returncode}")
                    self._discard(child)
                raise ServerNotRunning("TFTP server is not running")
            self._serving = None
            if not self._child.holds_created_files():
                self._stop_process()  # SIGTERM: Volley drains, then exits
                self.logger.info("TFTP server stopped")
                return
            try:
                self._child.control.stop_server()
            except ControlError as error:
                if error.status != 409:  # stopped in the meantime
                    raise TftpError(f"cannot stop: {error.message}") from None
            self._wait_until_stopped(self._drain_seconds() + 5)
            self.logger.info("TFTP server stopped; volley runs on for the files to remove on close")

    def _drain_seconds(self) -> float:
        return (self.drain_timeout_ms if self.drain_timeout_ms is not None else 5000) / 1000

    def _wait_until_stopped(self, timeout: float):
        deadline = time.monotonic() + timeout
        while self._tftp_running():
            if time.monotonic() >= deadline:
                self.logger.warning(f"the TFTP service still drains {timeout:.0f} s after stop()")
                return
            time.sleep(0.02)

    def _stop_process(self):
        """Ends the session (removing what it created) and stops `volley serve`."""
        child = self._child
        if child is None:
            return
        child.stop(timeout=self._drain_seconds() + 5)
        self._discard(child)

    @export
    def get_host(self) -> str:
        """Get the host address the server is bound to (as Volley reports it while running).

        Returns:
            str: The IP address or hostname
        """
        serving = self._serving
        if serving is not None and serving[0] and self._child is not None and self._child.running:
            return serving[0]
        return self.host

    @export
    def get_port(self) -> int:
        """Get the port number the server is listening on (the real one after port 0).

        Returns:
            int: The port number
        """
        serving = self._serving
        if serving is not None and self._child is not None and self._child.running:
            return serving[1]
        return self.port

    @export
    def get_url(self) -> str:
        """Get the base URL of the HTTP server (http_port set), e.g. http://192.168.1.100:8080.

        Volley serves HTTP from the same root while its process runs: from the driver's
        first call (start(), or a file call) until stop() ends it or the driver closes.
        The port is the one bound (after http_port 0) while it runs, http_port otherwise.

        Returns:
            str: The base URL

        Raises:
            TftpError: If http_port is not set (the driver serves no HTTP)
        """
        if self.http_port is None:
            raise TftpError("this driver serves no HTTP: set http_port in its configuration")
        child = self._child
        if child is not None and child.running and child.http:
            return base_url(self.host, child.http[0][1])
        return base_url(self.host, self.http_port)

    def get_pid(self) -> int | None:
        """The process ID of the running `volley serve`, if any (exporter side only)."""
        child = self._child
        return child.pid if child is not None and child.running else None

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


from .errors import HttpServerError  # noqa: E402
from .http_server import VolleyHttp  # noqa: E402  (the HTTP driver, named here in exporter configurations)
