"""Volley's control plane (its `openapi.yaml`), on the unix socket of the `volley serve` the driver runs.

Every file operation of the driver goes through it, so Volley's own store does the work:
confinement beneath the root with `openat2`, uploads written to a temporary file, checked
against their SHA-256 and renamed into place, and sessions that remove what the driver
created when it closes. The driver keeps no store code of its own.

Synchronous calls (`http.client` over AF_UNIX) serve the driver's synchronous exports;
bodies are streamed with aiohttp (a dependency of jumpstarter) in the asynchronous ones.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import aiohttp

CHUNK_SIZE = 256 * 1024


class ControlError(Exception):
    """A failed control-plane call: the HTTP status, Volley's stable error name and its message."""

    def __init__(self, status: int, name: str, message: str):
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


@dataclass
class FileInfo:
    """What `HEAD /v1/files/{path}` tells of a regular file."""

    size: int
    sha256: str
    last_modified: str


def file_url(name: str) -> str:
    """The API path of `name`, every byte but unreserved ones percent-encoded (slashes too)."""
    return "/v1/files/" + quote(name, safe="")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _error(status: int, body: bytes) -> ControlError:
    try:
        answer = json.loads(body)
        return ControlError(status, str(answer["error"]), str(answer["message"]))
    except (ValueError, KeyError, TypeError):
        text = body.decode("utf-8", "replace").strip()
        return ControlError(status, "HTTPError", f"HTTP {status}" + (f": {text}" if text else ""))


@dataclass
class ControlPlane:
    """A client of one Volley control plane listening on the unix socket `path`."""

    path: str
    timeout: float = 60.0

    # Synchronous calls ------------------------------------------------------------------

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None):
        """(status, headers, body) of one request; OSError when the socket does not answer."""
        connection = _UnixConnection(self.path, self.timeout)
        try:
            connection.request(method, url, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def call(self, method: str, url: str, body: bytes | None = None, headers: dict | None = None):
        """The JSON answer of a call that must succeed (2xx); ControlError otherwise."""
        status, _, payload = self.request(method, url, body, headers)
        if not 200 <= status < 300:
            raise _error(status, payload)
        return json.loads(payload) if payload else None

    def wait_until_answering(self, timeout: float) -> None:
        """Returns once the control plane answers; the last OSError when it has not in `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", "/v1/server")
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def server(self) -> dict:
        return self.call("GET", "/v1/server")

    def start_server(self) -> dict:
        return self.call("POST", "/v1/server/start")

    def stop_server(self) -> dict:
        return self.call("POST", "/v1/server/stop")

    def list_files(self) -> list[dict]:
        """`[{"path", "size", "modified"}]` of every regular file under the root, sorted by path."""
        return self.call("GET", "/v1/files")

    def head(self, name: str) -> FileInfo | None:
        """The file `name`, None when it does not exist; ControlError (403: outside the root, or a
        refused name; 500: not a regular file, such as a directory) otherwise."""
        status, headers, _ = self.request("HEAD", file_url(name))
        if status == 404:
            return None
        if status != 200:
            reason = "outside the root or not allowed" if status == 403 else "not a regular file, or unreadable"
            raise ControlError(status, "AccessViolation" if status == 403 else "HTTPError", f"{name}: {reason}")
        return FileInfo(
            size=int(headers.get("x-file-size", "0")),
            sha256=headers.get("x-checksum-sha256", ""),
            last_modified=headers.get("last-modified", ""),
        )

    def delete(self, name: str) -> None:
        self.call("DELETE", file_url(name))

    def transfers(self) -> list[dict]:
        """The transfers in flight, oldest first (`GET /v1/transfers`)."""
        return self.call("GET", "/v1/transfers")

    def create_session(self, ttl_seconds: int) -> str:
        return self.call("POST", f"/v1/sessions?ttl_seconds={ttl_seconds}")["id"]

    def renew_session(self, session: str) -> None:
        self.call("POST", f"/v1/sessions/{quote(session, safe='')}/heartbeat")

    def session_files(self, session: str) -> list[str]:
        """The files `session` created that it will remove when it ends."""
        return self.call("GET", f"/v1/sessions/{quote(session, safe='')}")["files"]

    def end_session(self, session: str) -> list[str]:
        """Ends `session`; the paths it removed."""
        return self.call("DELETE", f"/v1/sessions/{quote(session, safe='')}")["removed"]

    # Streamed bodies --------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=self.path),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout),
        )

    async def put(
        self, name: str, chunks: AsyncIterator[bytes], *, sha256: str | None = None, session: str | None = None
    ) -> tuple[dict, bool]:
        """Streams `chunks` into `name`: (Volley's PutResult, whether the file was new)."""
        headers = {"Content-Type": "application/octet-stream"}
        if sha256:
            headers["X-Checksum-SHA256"] = sha256
        if session:
            headers["X-Volley-Session"] = session
        async with self._session() as client:
            async with client.put("http://localhost" + file_url(name), data=chunks, headers=headers) as response:
                payload = await response.read()
                if not 200 <= response.status < 300:
                    raise _error(response.status, payload)
                return json.loads(payload), response.status == 201

    async def events(self, **filters: str | None) -> AsyncIterator[tuple[str, dict]]:
        """`GET /v1/events` with the given filters (`client`, `path`, `type`): (event, object)
        pairs as they come. A `dropped` event (this client fell behind) ends it with ControlError."""
        query = urlencode({name: value for name, value in filters.items() if value})
        async with self._session() as client:
            async with client.get("http://localhost/v1/events" + (f"?{query}" if query else "")) as response:
                if response.status != 200:
                    raise _error(response.status, await response.read())
                event, data = "message", []
                async for raw in response.content:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if line.startswith(":"):
                        continue
                    if line.startswith("event:"):
                        event = line[len("event:"):].strip()
                    elif line.startswith("data:"):
                        data.append(line[len("data:"):].lstrip())
                    elif not line and data:
                        if event == "dropped":
                            raise ControlError(200, "Dropped", "the event stream dropped this client: it fell behind")
                        yield event, json.loads("\n".join(data))
                        event, data = "message", []

    @asynccontextmanager
    async def get(self, name: str):
        """The body of `name` as an async iterator of chunks; ControlError when it cannot be read."""
        async with self._session() as client:
            async with client.get("http://localhost" + file_url(name)) as response:
                if response.status != 200:
                    raise _error(response.status, await response.read())
                yield response.content.iter_chunked(CHUNK_SIZE)
