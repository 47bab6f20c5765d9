"""One `volley serve` a driver runs: its private directory, control plane and session.

Both drivers of this package (`Volley`, `VolleyHttp`) run Volley this way: a YAML
configuration in a private directory, the control plane on a unix socket there, the TFTP
service stopped until the control plane starts it (`start_stopped`), and, with
`remove_created_on_close`, a control-plane session that uploads are recorded in and that
removes what they created when it ends. `VolleyChild.spawn` returns once all of that
answers (and the HTTP listeners asked for have bound); `stop` ends the session and the process.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass, field

import yaml

from . import process as _process
from .control import ControlError, ControlPlane
from .errors import TftpError
from .storage import VolleyStorage

# The control-plane session that holds what the driver created lives this long without a
# heartbeat (the API's maximum), and is renewed every SESSION_RENEWAL seconds while the child lives.
SESSION_TTL = 86400
SESSION_RENEWAL = 3600


def set_up_root_and_storage(driver) -> None:
    """What both drivers do once their fields are set: the root made absolute (and made when
    missing), and the `storage` child, OpenDAL's driver interface over the control plane."""
    driver.root_dir = os.path.abspath(driver.root_dir)
    os.makedirs(driver.root_dir, exist_ok=True)
    driver.children["storage"] = VolleyStorage(connect=driver._connect, created=driver._created_files)
    driver.storage = driver.children["storage"]


def find_binary(configured: str | None) -> str:
    """The volley executable: `configured`, else $VOLLEY_BINARY, else `volley` on PATH."""
    candidate = configured or os.environ.get("VOLLEY_BINARY") or "volley"
    resolved = candidate if os.sep in candidate else shutil.which(candidate)
    if resolved is None or not os.access(resolved, os.X_OK) or os.path.isdir(resolved):
        raise TftpError(
            f"volley executable not found: {candidate!r} "
            "(set volley_binary in the driver configuration, or VOLLEY_BINARY, or put volley on PATH)"
        )
    return resolved


def http_listen(host: str, port: int) -> str:
    """Volley's `http_listen` for one address: HOST:PORT, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def base_url(host: str, port: int) -> str:
    """http://HOST:PORT, an IPv6 address in brackets."""
    return f"http://{http_listen(host, port)}"


@dataclass(eq=False)
class VolleyChild:
    """A running `volley serve` with its control plane (and session, if it keeps one)."""

    process: _process.VolleyProcess
    control: ControlPlane
    workdir: str
    logger: logging.Logger
    session: str | None = None
    # The HTTP listeners it bound, (host, port) each, in the order of http_listen.
    http: list[tuple[str, int]] = field(default_factory=list)
    _renewals: threading.Event | None = field(init=False, default=None)

    @classmethod
    def spawn(
        cls,
        binary: str,
        configuration: dict,
        *,
        logger: logging.Logger,
        timeout: float,
        session: bool,
        http_listeners: int = 0,
    ) -> "VolleyChild":
        """Runs `volley serve` with `configuration` plus the control plane's socket and
        `start_stopped`; returns once it is ready. TftpError with Volley's reason otherwise."""
        workdir = _process.make_workdir()
        control = ControlPlane(os.path.join(workdir, "control.sock"))
        configuration = {**configuration, "control_listen": f"unix:{control.path}", "start_stopped": True}
        config_path = os.path.join(workdir, "volley.yaml")
        with open(config_path, "w") as f:
            yaml.safe_dump(configuration, f, sort_keys=False)

        process = _process.VolleyProcess(argv=[binary, "serve", "--config", config_path], logger=logger)
        try:
            process.start(timeout=timeout, workdir=workdir)
            http = process.wait_for_http(http_listeners, timeout=timeout) if http_listeners else []
            try:
                control.wait_until_answering(timeout)
            except OSError as error:
                raise TftpError(f"volley's control plane did not answer on {control.path}: {error}") from None
            try:
                session_id = control.create_session(SESSION_TTL) if session else None
            except ControlError as error:
                raise TftpError(f"volley's control plane refused a session: {error.message}") from None
        except BaseException:
            process.stop(timeout=5)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        child = cls(process=process, control=control, workdir=workdir, logger=logger, session=session_id, http=http)
        if session_id is not None:
            child._renewals = threading.Event()
            threading.Thread(target=child._renew, name="volley-session", daemon=True).start()
        logger.debug(f"volley (pid {process.pid}) runs; control plane on {control.path}")
        return child

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.running

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def tftp_running(self) -> bool:
        """Whether its TFTP service runs (False when the process does not)."""
        if not self.process.running:
            return False
        try:
            return bool(self.control.server()["running"])
        except (OSError, ControlError):
            return False

    def created_files(self) -> list[str]:
        """The files its session created and will remove when it ends (none without a session)."""
        if self.session is None or not self.process.running:
            return []
        return self.control.session_files(self.session)

    def holds_created_files(self) -> bool:
        """Whether its session holds files to remove (then it must live until the driver closes)."""
        try:
            return bool(self.created_files())
        except (OSError, ControlError):
            return True  # keep it rather than lose what it would remove

    def stop(self, *, timeout: float) -> None:
        """Ends the session (removing what it created) and stops Volley: SIGTERM (it drains
        transfers in flight), SIGKILL after `timeout` seconds."""
        if self.process.running and self.session is not None:
            try:
                removed = self.control.end_session(self.session)
                if removed:
                    self.logger.info(f"removed {len(removed)} file(s) the driver created: {', '.join(removed)}")
            except (OSError, ControlError) as error:
                self.logger.error(f"cannot remove the files the driver created: {error}")
        if self.process.running:
            returncode = self.process.stop(timeout=timeout)
            if returncode not in (0, None):
                self.logger.warning(f"volley exited with status {returncode}")
        self.discard()

    def discard(self) -> None:
        """Forgets it: no more session renewals, its private directory removed."""
        if self._renewals is not None:
            self._renewals.set()
            self._renewals = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _renew(self):
        stopped = self._renewals
        while stopped is not None and not stopped.wait(SESSION_RENEWAL):
            try:
                self.control.renew_session(self.session)
            except (OSError, ControlError) as error:
                self.logger.warning(f"cannot renew the control-plane session: {error}")
