"""When Volley cannot start, start() raises TftpError with Volley's own one-line reason."""

import socket

import pytest
from helpers import volley_pids

from jumpstarter.common.utils import serve
from jumpstarter_driver_volley.driver import TftpError, Volley


@pytest.fixture
def bound_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_port_in_use_direct(tmp_path, bound_port):
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=bound_port)
    with pytest.raises(TftpError) as raised:
        driver.start()
    message = str(raised.value)
    assert message.startswith("cannot start"), message
    assert "in use" in message.lower(), message
    assert "\n" not in message
    assert driver.get_pid() is None and not volley_pids()
    driver.close()


def test_port_in_use_through_serve(tmp_path, bound_port):
    with serve(Volley(root_dir=str(tmp_path), host="127.0.0.1", port=bound_port)) as client:
        with pytest.raises(TftpError) as raised:
            client.start()
        assert str(raised.value).startswith("cannot start"), str(raised.value)
        assert "[volley:" not in str(raised.value)
    assert not volley_pids()


def test_invalid_setting(tmp_path):
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0, max_window_size=0)
    with pytest.raises(TftpError) as raised:
        driver.start()
    assert "window" in str(raised.value).lower(), str(raised.value)
    driver.close()


def test_root_that_is_not_a_directory(tmp_path):
    driver = Volley(root_dir=str(tmp_path / "root"), host="127.0.0.1", port=0)
    (tmp_path / "root").rmdir()
    (tmp_path / "root").write_bytes(b"a file, not a directory")
    with pytest.raises(TftpError, match="cannot start"):
        driver.start()
    driver.close()


def test_missing_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("VOLLEY_BINARY", str(tmp_path / "no-such-volley"))
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0)
    with pytest.raises(TftpError, match="volley executable not found"):
        driver.start()


def test_binary_that_is_not_volley(tmp_path):
    """A program that never sends READY=1 and exits: its last line is the reason."""
    fake = tmp_path / "fake-volley"
    fake.write_text("#!/bin/sh\necho 'something went wrong' >&2\nexit 3\n")
    fake.chmod(0o755)
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0, volley_binary=str(fake))
    with pytest.raises(TftpError, match="something went wrong"):
        driver.start()


def test_binary_that_never_gets_ready(tmp_path):
    fake = tmp_path / "slow-volley"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0, volley_binary=str(fake), start_timeout=1)
    with pytest.raises(TftpError, match="ready"):
        driver.start()
    assert driver.get_pid() is None
