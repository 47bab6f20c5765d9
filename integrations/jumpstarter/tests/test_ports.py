"""Port 0 (Volley picks one and reports it with READY=1) and a fixed port."""

import socket

import pytest
from helpers import curl_get, free_udp_port

from jumpstarter.common.utils import serve
from jumpstarter_driver_volley.driver import Volley


def fetch(client, root, tmp_path, host=None):
    (root / "probe.txt").write_bytes(b"probe")
    result = curl_get(host or client.get_host(), client.get_port(), "probe.txt", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out").read_bytes() == b"probe"


def test_port_zero_reports_the_bound_port(tmp_path):
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0)
    with serve(driver) as client:
        assert client.get_port() == 0  # not running: the configured port
        client.start()
        port = client.get_port()
        assert port != 0
        # The port is really Volley's: binding it again fails.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            with pytest.raises(OSError):
                s.bind(("127.0.0.1", port))
        fetch(client, tmp_path, tmp_path)
        client.stop()
        assert client.get_port() == 0


def test_fixed_port(tmp_path):
    port = free_udp_port()
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=port)
    with serve(driver) as client:
        client.start()
        assert client.get_port() == port
        assert client.get_host() == "127.0.0.1"
        fetch(client, tmp_path, tmp_path)


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_ipv6_loopback(tmp_path):
    driver = Volley(root_dir=str(tmp_path), host="::1", port=0)
    with serve(driver) as client:
        client.start()
        assert client.get_host() == "::1"
        fetch(client, tmp_path, tmp_path, host="[::1]")
