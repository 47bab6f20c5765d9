"""Volley's settings, as the binary itself exports them (`volley settings --json`).

The driver keeps no list of Volley's settings: which of its fields pass through to Volley's
configuration, and which keys its `settings` mapping may hold, come from the binary it runs.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess

from .errors import TftpError

# Keys the driver sets itself, from its stock configuration (root_dir, host, port) and its
# log_level; never passed through from `settings`.
DRIVER_KEYS = frozenset({"root_dir", "host", "port", "log_level"})
# Keys of how the driver talks to Volley: its JSON log, its control plane on a unix socket
# of its own, the TFTP service started by start().
OWN_KEYS = frozenset({"log_format", "control_listen", "control_token_file", "start_stopped"})
# Set from the drivers' fields: http_port (Volley), host and port (VolleyHttp).
HTTP_KEYS = frozenset({"http_listen"})


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


def log_levels(value: str) -> tuple[str, str]:
    """(Volley's log level, the Python logging level) for a driver's `log_level`: one of
    Volley's names, or Python's (DEBUG, INFO...); ValueError otherwise."""
    level = _ALIASES.get(str(value).lower(), str(value).lower())
    if level not in _VOLLEY_LEVELS:
        raise ValueError(f"log_level {value!r}: expected one of {', '.join(_VOLLEY_LEVELS)}")
    return level, _VOLLEY_LEVELS[level]


def exported_settings(binary: str, timeout: float = 30) -> dict[str, dict]:
    """`volley settings --json` of `binary`, by key (read once per binary file)."""
    status = os.stat(binary)
    return _exported(binary, status.st_mtime_ns, status.st_size, timeout)


@functools.lru_cache(maxsize=8)
def _exported(binary: str, _mtime: int, _size: int, timeout: float) -> dict[str, dict]:
    try:
        result = subprocess.run(
            [binary, "settings", "--json"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise TftpError(
            f"{binary} did not answer `settings --json` within {timeout:.0f} s, so it did not become ready"
        ) from None
    except OSError as error:
        raise TftpError(f"cannot run {binary} settings --json: {error}") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise TftpError(f"{binary} settings --json failed: {reason} (is it Volley 0.5 or newer?)")
    try:
        entries = json.loads(result.stdout)
        return {entry["key"]: entry for entry in entries}
    except (ValueError, KeyError, TypeError) as error:
        raise TftpError(f"{binary} settings --json printed no settings list: {error}") from None


def pass_through(binary: str, fields: dict, extra: dict, timeout: float = 30) -> dict:
    """Volley configuration entries: the driver `fields` that are Volley settings (when set),
    then `extra` (the driver's `settings` mapping), whose keys must all be Volley settings.
    Asking the binary takes at most `timeout` seconds."""
    exported = exported_settings(binary, timeout)
    configuration = {}
    for key, value in fields.items():
        if key in exported and key not in DRIVER_KEYS | HTTP_KEYS and value is not None:
            configuration[key] = value
    for key, value in extra.items():
        if key in OWN_KEYS:
            raise TftpError(f"settings: {key} is the driver's own (how it runs and talks to Volley)")
        if key in HTTP_KEYS:
            raise TftpError(f"settings: {key} is set by the driver (http_port for Volley, host and port for VolleyHttp)")
        if key in DRIVER_KEYS:
            raise TftpError(f"settings: {key} is a driver field; set it as {key}: directly")
        if key not in exported:
            raise TftpError(f"settings: {key!r} is not a Volley setting (`volley settings` lists them)")
        configuration[key] = value
    return configuration
