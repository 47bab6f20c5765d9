"""Runs `volley serve` as a child process and knows when it is ready.

Readiness uses the real sd_notify protocol: an AF_UNIX datagram socket whose path goes to
the child as NOTIFY_SOCKET; Volley sends `READY=1` (with `X_VOLLEY_HOST=` and
`X_VOLLEY_PORT=`, the address it bound) once it serves, later `STATUS=` lines and
`STOPPING=1`. When it cannot start it exits 1 with a last stderr line such as
`Error: cannot start: ...`, which becomes the `TftpError`.

Volley runs with `log_format: json`: each log line is one JSON object with `level`,
`label` and `message` (and the event's fields), read as data rather than matched as text.
With `http_listen`, Volley binds its HTTP listeners after READY=1 and logs one line per
listener, `serving HTTP on HOST port N`; `wait_for_http` waits for those (or for the exit
whose last line says why, such as a port in use).

One supervisor thread per child spawns it, forwards its output to the Python logger line by
line, drains the notify socket, and reaps it.

The child must not outlive the exporter, even when the exporter is killed (SIGKILL, OOM):
it runs under `setpriv --pdeathsig TERM` (util-linux), which sets PR_SET_PDEATHSIG and
execs Volley. The obvious way, prctl() from a `preexec_fn`, is not usable here: a
`preexec_fn` makes Python fork() and run Python code in the child, and in an exporter
(a gRPC process with its own threads and fork handlers) the child then crashes before it
reaches exec (seen as SIGSEGV, or SIGABRT with a gRPC event-engine message). Without a
`preexec_fn`, Python spawns with vfork() and runs no fork handlers.

Linux sends the death signal when the *thread* that spawned the child ends, and
Jumpstarter runs synchronous driver calls on worker threads that come and go; the
supervisor thread spawns the child and lives exactly as long as it, so the signal comes
when the process that supervises Volley dies, never earlier. `close()` and an atexit hook
stop Volley on orderly exits.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field

from .errors import TftpError

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

# How Volley's log line announcing an HTTP listener begins; the port is its last word.
HTTP_LISTENING = "serving HTTP on "

_setpriv: list[str] | None = None


def pdeathsig_prefix(logger: logging.Logger) -> list[str]:
    """`setpriv --pdeathsig TERM --` if util-linux's setpriv can do it, else nothing (and a warning)."""
    global _setpriv
    if _setpriv is None:
        setpriv = shutil.which("setpriv")
        supported = False
        if setpriv:
            try:
                probe = subprocess.run([setpriv, "--pdeathsig", "TERM", "--", "true"], capture_output=True, timeout=10)
                supported = probe.returncode == 0
            except (OSError, subprocess.SubprocessError):
                supported = False
        _setpriv = [setpriv, "--pdeathsig", "TERM", "--"] if supported else []
        if not supported:
            logger.warning(
                "setpriv --pdeathsig (util-linux) is not available: volley will not be stopped "
                "if this process is killed without a chance to clean up"
            )
    return list(_setpriv)


_live: "weakref.WeakSet[VolleyProcess]" = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit():
    for process in list(_live):
        process.terminate_now()


def parse_notify(datagram: bytes) -> dict[str, str]:
    fields = {}
    for line in datagram.decode("utf-8", "replace").split("\n"):
        key, sep, value = line.partition("=")
        if sep:
            fields[key] = value
    return fields


def parse_log_record(line: str) -> dict | None:
    """One of Volley's JSON log lines as a dict with a known `level` and a `message`; None otherwise."""
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("level") not in _LEVELS or not isinstance(record.get("message"), str):
        return None
    return record


@dataclass
class Ready:
    host: str
    port: int
    status: str


@dataclass(eq=False)
class VolleyProcess:
    """One run of `volley serve`."""

    argv: list[str]
    logger: logging.Logger
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    popen: subprocess.Popen | None = field(init=False, default=None)
    ready: Ready | None = field(init=False, default=None)
    status: str = field(init=False, default="")
    stopping: bool = field(init=False, default=False)
    returncode: int | None = field(init=False, default=None)
    stderr_tail: collections.deque = field(init=False, default_factory=lambda: collections.deque(maxlen=50))
    # The HTTP listeners Volley reported (`serving HTTP on HOST port N`), in the order it bound them.
    http_listening: list[tuple[str, int]] = field(init=False, default_factory=list)

    _thread: threading.Thread | None = field(init=False, default=None)
    _spawned: threading.Event = field(init=False, default_factory=threading.Event)
    _ready_event: threading.Event = field(init=False, default_factory=threading.Event)
    _exited: threading.Event = field(init=False, default_factory=threading.Event)
    _http_bound: threading.Condition = field(init=False, default_factory=threading.Condition)
    _spawn_error: BaseException | None = field(init=False, default=None)
    _notify: socket.socket | None = field(init=False, default=None)
    _tmpdir: str | None = field(init=False, default=None)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def running(self) -> bool:
        return self.popen is not None and not self._exited.is_set() and self.popen.poll() is None

    def start(self, *, timeout: float, workdir: str) -> Ready:
        """Spawn Volley and wait for READY=1; TftpError with Volley's reason otherwise."""
        self._tmpdir = workdir
        notify_path = os.path.join(workdir, "notify")
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._notify.bind(notify_path)
        self._notify.setblocking(False)
        self.env["NOTIFY_SOCKET"] = notify_path
        for inherited in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"):
            self.env.pop(inherited, None)  # never let Volley adopt our own supervisor's sockets

        self._thread = threading.Thread(target=self._supervise, name=f"volley-{id(self):x}", daemon=True)
        self._thread.start()
        self._spawned.wait()
        if self._spawn_error is not None:
            self._close_notify()
            raise TftpError(f"cannot run {self.argv[0]}: {self._spawn_error}") from self._spawn_error
        _live.add(self)

        deadline = time.monotonic() + timeout
        while not self._ready_event.is_set() and not self._exited.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.logger.error("volley did not report READY=1 within %.0f s; killing it", timeout)
                self.kill()
                raise TftpError(f"volley did not become ready within {timeout:.0f} s")
            self._ready_event.wait(min(remaining, 0.1))
        if self.ready is None:
            self._thread.join(timeout=5)
            raise TftpError(self.failure_reason())
        return self.ready

    def wait_for_http(self, count: int, *, timeout: float) -> list[tuple[str, int]]:
        """The first `count` HTTP listeners, once Volley has bound them; TftpError with its reason
        if it exits first (a port in use), or if they do not come within `timeout` seconds.

        Volley reports READY=1 before its HTTP listeners bind, and logs one line per
        listener (`serving HTTP on HOST port N`, the port last) when it has bound it.
        """
        deadline = time.monotonic() + timeout
        with self._http_bound:
            while len(self.http_listening) < count:
                if self._exited.is_set():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TftpError(f"volley did not report its HTTP listener within {timeout:.0f} s")
                self._http_bound.wait(min(remaining, 0.1))
            else:
                return list(self.http_listening[:count])
        if self._thread is not None:
            self._thread.join(timeout=5)
        raise TftpError(self.failure_reason())

    def failure_reason(self) -> str:
        """Volley's one-line reason for exiting (its last `Error:` line), else what is known."""
        lines = [line.strip() for line in self.stderr_tail if line.strip()]
        for line in reversed(lines):
            if line.startswith("Error: "):
                return line[len("Error: "):]
        status = self.returncode
        if status is not None and status < 0:
            try:
                how = f"killed by {signal.Signals(-status).name}"
            except ValueError:
                how = f"killed by signal {-status}"
        else:
            how = f"exited with status {status}"
        crash = [line for line in lines if line.startswith(("Fatal error:", "*** Program crashed"))]
        detail = crash[0] if crash else (lines[-1] if lines else "")
        return f"volley {how} before it was ready" + (f": {detail}" if detail else "")

    def stop(self, *, timeout: float) -> int | None:
        """SIGTERM (Volley drains transfers in flight, then exits 0); SIGKILL after `timeout`.

        Volley answers SIGTERM with STOPPING=1 on the notify socket. Without that answer
        (and still running) after 2 s, the signal is taken as lost and sent again:
        Volley does not see it if it arrives while it is still arming its handlers.
        """
        if self.popen is None:
            return None
        deadline = time.monotonic() + timeout
        for _ in range(5):
            if not self.running:
                break
            self._signal(signal.SIGTERM)
            acknowledged = time.monotonic() + 2.0
            while not self.stopping and not self._exited.is_set() and time.monotonic() < acknowledged:
                self._exited.wait(0.02)
            if self.stopping or self._exited.is_set():
                break
            self.logger.debug("volley (pid %d) did not acknowledge SIGTERM; sending it again", self.popen.pid)
        if not self._exited.wait(max(0.0, deadline - time.monotonic())):
            self.logger.warning("volley (pid %d) still running %.1f s after SIGTERM; killing it", self.popen.pid, timeout)
            self.kill()
        if self._thread is not None:
            self._thread.join(timeout=5)
        _live.discard(self)
        return self.returncode

    def kill(self):
        if self.popen is not None and self.popen.poll() is None:
            self._signal(signal.SIGKILL)
        self._exited.wait(5)
        _live.discard(self)

    def terminate_now(self):
        """For interpreter exit: SIGTERM, a short wait, then SIGKILL."""
        if not self.running:
            return
        self._signal(signal.SIGTERM)
        if not self._exited.wait(2):
            self.kill()

    def _signal(self, signum: int):
        try:
            self.popen.send_signal(signum)
        except (ProcessLookupError, OSError):
            pass

    # The supervisor thread ------------------------------------------------------------

    def _supervise(self):
        try:
            self.popen = subprocess.Popen(
                pdeathsig_prefix(self.logger) + self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env,
                close_fds=True,
                start_new_session=True,  # the driver decides when Volley stops, not the terminal
            )
        except BaseException as error:  # noqa: BLE001 - reported by start()
            self._spawn_error = error
            self._spawned.set()
            self._exited.set()
            return
        self._spawned.set()
        try:
            self._pump()
        finally:
            self.returncode = self.popen.wait()
            self._drain_notify()
            self._close_notify()
            self._exited.set()
            level = logging.INFO if self.returncode == 0 else logging.WARNING
            self.logger.log(level, "volley (pid %d) exited with status %s", self.popen.pid, self.returncode)

    def _pump(self):
        """Forward output lines and notify datagrams until Volley closes its output."""
        output = self.popen.stdout
        os.set_blocking(output.fileno(), False)
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(output, selectors.EVENT_READ, "output")
            selector.register(self._notify, selectors.EVENT_READ, "notify")
            while True:
                for key, _ in selector.select(timeout=1.0):
                    if key.data == "notify":
                        self._drain_notify()
                        continue
                    try:
                        chunk = os.read(output.fileno(), 65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        if pending:
                            self._log_line(pending)
                        output.close()
                        return
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self._log_line(line)

    def _log_line(self, raw: bytes):
        line = raw.decode("utf-8", "replace").rstrip("\r")
        self.stderr_tail.append(line)
        record = parse_log_record(line)
        if record is not None:
            self._note_http_listener(record["message"])
            self.logger.log(_LEVELS[record["level"]], "volley: %s", record["message"])
        elif line.startswith("Error: "):
            self.logger.error("volley: %s", line)
        elif line:  # not a log record: a crash report, or a binary that is not Volley
            self.logger.info("volley: %s", line)

    def _note_http_listener(self, message: str):
        if not message.startswith(HTTP_LISTENING):
            return
        where = message[len(HTTP_LISTENING):].rsplit(" port ", 1)
        try:
            listener = (where[0], int(where[1]))
        except (IndexError, ValueError):
            return
        with self._http_bound:
            self.http_listening.append(listener)
            self._http_bound.notify_all()

    def _drain_notify(self):
        if self._notify is None:
            return
        while True:
            try:
                datagram = self._notify.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            fields = parse_notify(datagram)
            if "STATUS" in fields:
                self.status = fields["STATUS"]
            if fields.get("STOPPING") == "1":
                self.stopping = True
            if fields.get("READY") == "1" and self.ready is None:
                try:
                    port = int(fields.get("X_VOLLEY_PORT", ""))
                except ValueError:
                    self.logger.error("volley's READY=1 lacks a valid X_VOLLEY_PORT: %r", datagram)
                    continue
                self.ready = Ready(host=fields.get("X_VOLLEY_HOST", ""), port=port, status=self.status)
                self._ready_event.set()

    def _close_notify(self):
        if self._notify is not None:
            self._notify.close()
            self._notify = None


def make_workdir() -> str:
    """A private directory for the notify socket and the configuration file.

    AF_UNIX paths are limited to 107 bytes, so fall back to /tmp if TMPDIR is deep.
    """
    base = tempfile.gettempdir()
    if len(os.path.join(base, "volley-XXXXXXXX", "notify")) > 100:
        base = "/tmp"
    return tempfile.mkdtemp(prefix="volley-", dir=base)
