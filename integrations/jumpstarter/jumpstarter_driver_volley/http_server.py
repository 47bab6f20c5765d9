"""Volley as a Jumpstarter HTTP driver: a drop-in for `jumpstarter_driver_http.driver.HttpServer`.

The stock driver serves its root with aiohttp inside the exporter. This one has Volley
serve it (`volley serve` with `http_listen`: GET and HEAD, ranges, conditional requests,
the same confinement as TFTP), keeping the stock driver's configuration keys, exports,
`storage` child and client (`put_file` returns the file's URL).

HTTP serves exactly between start() and stop(), as the stock server does. Volley cannot
stop its HTTP listener and keep running, so start() runs a `volley serve` that serves HTTP
(its TFTP service stopped, no UDP port bound) and stop() ends it: its `runner`, in the
place of the stock driver's aiohttp AppRunner. `storage` goes through another `volley serve`
with no listener at all (only its control plane, on a unix socket), run from the first file
call until the driver closes: its control-plane session holds what the driver wrote and
removes it on close (`remove_created_on_close`), whether HTTP was stopped in between or not.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import anyio

from . import settings as _settings
from .child import VolleyChild, base_url, find_binary, http_listen, set_up_root_and_storage
from .control import ControlPlane
from .errors import HttpServerError, TagsRemoteErrors, TftpError
from jumpstarter.common.ipaddr import get_ip_address
from jumpstarter.driver import Driver, export

__all__ = ["VolleyHttp", "HttpServerError"]


def _reason(error: TftpError) -> str:
    return " ".join(str(a) for a in error.args)


@dataclass(eq=False)
class VolleyHttpRunner:
    """The `volley serve` that serves HTTP between start() and stop()."""

    child: VolleyChild
    stop_timeout: float

    @property
    def port(self) -> int:
        return self.child.http[0][1]

    def stop(self) -> None:
        """SIGTERM: Volley closes its listeners and exits; SIGKILL after stop_timeout seconds."""
        self.child.stop(timeout=self.stop_timeout)

    async def shutdown(self) -> None:
        """Nothing to do before cleanup(): Volley stops taking connections when it stops."""

    async def cleanup(self) -> None:
        await anyio.to_thread.run_sync(self.stop)


@dataclass(kw_only=True)
class VolleyHttp(TagsRemoteErrors, Driver):
    """HTTP Server driver for Jumpstarter, served by Volley

    Attributes:
        root_dir (str): Directory served. Created if missing. Defaults to "/var/www".
        host (str): Address to bind. None: auto-detected as the stock driver does.
        port (int): TCP port. Defaults to 8080; 0 picks a free port (see get_port()).
        timeout (int): Accepted for compatibility with the stock driver, which does not use it
            either; Volley's own HTTP timeout is `http_header_timeout_ms` (in `settings`).
        remove_created_on_close (bool): Remove the files the driver created when it closes.
        volley_binary (str): The `volley` executable. Default: $VOLLEY_BINARY, else `volley` on PATH.
        log_level (str): Volley's log level and the driver logger's, as for the Volley driver.
        start_timeout (float): Seconds to wait for Volley to report ready.
        settings (dict): Any other of Volley's YAML keys with its value, e.g.
            `{require_world_readable: false}`; unknown keys make start() raise HttpServerError.
    """

    root_dir: str = "/var/www"
    host: str | None = field(default=None)
    port: int = 8080
    timeout: int = field(default=600)
    remove_created_on_close: bool = True  # Clean up temporary web files by default

    volley_binary: str | None = None
    start_timeout: float = 30.0
    settings: dict = field(default_factory=dict)

    # The `volley serve` serving HTTP while started (the stock driver's aiohttp AppRunner),
    # the port it bound, and the `volley serve` that storage goes through.
    runner: VolleyHttpRunner | None = field(init=False, default=None)
    _bound_port: int = field(init=False, default=0)
    _store: VolleyChild | None = field(init=False, default=None)
    _volley_log_level: str = field(init=False, default="info")
    _lock: threading.RLock = field(init=False, default_factory=threading.RLock)

    def __post_init__(self):
        self._volley_log_level, self.log_level = _settings.log_levels(self.log_level)

        if hasattr(super(), "__post_init__"):
            super().__post_init__()

        set_up_root_and_storage(self)

        if self.host is None:
            self.host = get_ip_address(logger=self.logger)

    @classmethod
    def client(cls) -> str:
        """Return the import path of the corresponding client"""
        return "jumpstarter_driver_volley.http_client.VolleyHttpClient"

    # The volley processes ---------------------------------------------------------------

    def volley_configuration(self, *, http: bool) -> dict:
        """The YAML configuration of a `volley serve` of this driver (without its control plane).

        Its TFTP service stays stopped (no UDP port is bound): on 127.0.0.1 port 0 should it
        ever start. With `http`, it serves HTTP on host:port.
        """
        binary = find_binary(self.volley_binary)
        configuration = {
            "root_dir": self.root_dir,
            "host": "127.0.0.1",
            "port": 0,
            "log_level": self._volley_log_level,
            "log_format": "json",  # read by process.py as data
        }
        if http:
            configuration["http_listen"] = http_listen(self.host, self.port)
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__ if not name.startswith("_")}
        configuration.update(_settings.pass_through(binary, fields, self.settings, timeout=self.start_timeout))
        return configuration

    def _spawn(self, *, http: bool) -> VolleyChild:
        try:
            binary = find_binary(self.volley_binary)
            try:
                os.makedirs(self.root_dir, exist_ok=True)
            except OSError as error:
                raise TftpError(f"root_dir {self.root_dir}: {error.strerror}") from None
            return VolleyChild.spawn(
                binary,
                self.volley_configuration(http=http),
                logger=self.logger,
                timeout=self.start_timeout,
                session=self.remove_created_on_close and not http,
                http_listeners=1 if http else 0,
            )
        except TftpError as error:
            raise HttpServerError(f"cannot start: {_reason(error)}") from None

    def _stop_timeout(self) -> float:
        return float(self.settings.get("drain_timeout_ms", 5000)) / 1000 + 5

    def _connect(self) -> tuple[ControlPlane, str | None]:
        """The control plane storage uses and its session, starting that `volley serve` if needed."""
        with self._lock:
            if self._store is not None and not self._store.running:
                if self._store.session is not None:
                    self.logger.warning(
                        f"volley (pid {self._store.pid}) exited by itself: the files the driver created "
                        "before will not be removed on close"
                    )
                self._store.discard()
                self._store = None
            if self._store is None:
                self._store = self._spawn(http=False)
            return self._store.control, self._store.session

    def _created_files(self) -> list[str]:
        store = self._store
        return store.created_files() if store is not None else []

    def get_pids(self) -> list[int]:
        """The process IDs of the driver's running `volley serve`s (exporter side only)."""
        children = [self._store, self.runner.child if isinstance(self.runner, VolleyHttpRunner) else None]
        return [child.pid for child in children if child is not None and child.running]

    # Server control ------------------------------------------------------------------

    @export
    async def start(self):
        """
        Start the HTTP server.

        Returns once Volley serves on the configured host and port. If it already
        serves, it is restarted, as the stock driver does.

        Raises:
            HttpServerError: If the server fails to start (Volley's reason is the message).
        """
        await anyio.to_thread.run_sync(self._start)

    def _start(self):
        with self._lock:
            if self.runner is not None:
                self.logger.warning("Cleaning up stale HTTP server runner before starting.")
                self._stop_runner()
            child = self._spawn(http=True)
            self.runner = VolleyHttpRunner(child=child, stop_timeout=self._stop_timeout())
            self._bound_port = self.runner.port
            self.logger.info(f"HTTP server started at {self.get_url()} (volley pid {child.pid})")

    def _stop_runner(self):
        """Stops the runner, whatever it is; the driver serves no HTTP afterwards."""
        runner, self.runner, self._bound_port = self.runner, None, 0
        try:
            runner.stop()
        except Exception as error:  # noqa: BLE001 - a stale runner must not prevent the rest
            self.logger.warning(f"HTTP server cleanup failed: {error}")

    @export
    async def stop(self):
        """
        Stop the HTTP server.

        Volley closes its HTTP listeners and exits; the port is free when stop() returns.
        Files (storage) stay available. If the server is not running, a warning is logged.
        """
        await anyio.to_thread.run_sync(self._stop)

    def _stop(self):
        with self._lock:
            if self.runner is None:
                self.logger.warning("HTTP server is not running.")
                return
            self._stop_runner()
            self.logger.info("HTTP server stopped.")

    @export
    def get_url(self) -> str:
        """
        Get the base URL of the HTTP server.

        Returns:
            str: Base URL of the HTTP server.
        """
        return base_url(self.host, self._bound_port)

    @export
    def get_host(self) -> str | None:
        """
        Get the host IP address of the HTTP server.

        Returns:
            str: Host IP address.
        """
        return self.host

    @export
    def get_port(self) -> int:
        """
        Get the port number of the HTTP server (the real one after port 0; 0 when stopped).

        Returns:
            int: Port number.
        """
        return int(self._bound_port)

    # Lifecycle --------------------------------------------------------------------------

    def close(self):
        with self._lock:
            if self.runner is not None:
                self._stop_runner()
            store, self._store = self._store, None
            if store is not None:
                store.stop(timeout=self._stop_timeout())  # ends the session: removes what the driver created
        super().close()

    async def _async_cleanup(self):
        """Stops the runner (as the stock driver's does, for its tests)."""
        try:
            if self.runner:
                await self.runner.shutdown()
                await self.runner.cleanup()
                self.logger.info("HTTP server cleanup completed.")
        except Exception as e:
            self.logger.error(f"HTTP server cleanup failed: {e}")
            raise
