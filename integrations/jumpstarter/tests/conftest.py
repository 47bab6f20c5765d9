import os
import shutil

import pytest


@pytest.fixture(scope="session", autouse=True)
def volley_binary():
    """The volley executable under test: $VOLLEY_BINARY (run-tests sets it), else PATH."""
    binary = os.environ.get("VOLLEY_BINARY") or shutil.which("volley")
    if not binary or not os.access(binary, os.X_OK):
        pytest.exit("set VOLLEY_BINARY to the volley executable under test", returncode=2)
    os.environ["VOLLEY_BINARY"] = binary
    return binary


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def no_volley_left_behind(volley_binary):
    """Every test ends with no `volley` child of its own still running (a driver that was
    used must be closed, and closing it must stop Volley)."""
    from helpers import volley_pids, wait_gone

    before = volley_pids()
    yield
    left = volley_pids() - before
    for pid in left:
        wait_gone(pid, timeout=5)
    still = volley_pids() - before
    for pid in still:
        os.kill(pid, 9)
    assert not still, f"volley process(es) {sorted(still)} outlived the test"


@pytest.fixture
def unused_tcp_port():
    """A free TCP port on localhost (pytest-asyncio's fixture, which the ported
    jumpstarter-driver-http tests use)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
