"""HTTP from Volley: the Volley driver's http_port, and what VolleyHttp adds to the ported
jumpstarter-driver-http tests (HTTP exactly between start() and stop(), errors, configuration)."""

import http.client
import os
import random
import socket
import urllib.error
import urllib.request
from importlib.metadata import entry_points

import anyio
import pytest
import yaml
from helpers import RawTftp, volley_pids
from jumpstarter_driver_http.client import HttpServerClient
from jumpstarter_driver_http.driver import HttpServerError as StockHttpServerError

from jumpstarter.common.utils import serve
from jumpstarter.config.exporter import ExporterConfigV1Alpha1DriverInstance
from jumpstarter_driver_volley.driver import HttpServerError, TftpError, Volley, VolleyHttp
from jumpstarter_driver_volley.http_client import VolleyHttpClient


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def fetch(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}


def refused(host: str, port: int) -> bool:
    """True if nothing accepts TCP connections on host:port."""
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def busy_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


# --- The Volley driver's http_port ----------------------------------------------------


def test_http_port_serves_the_same_root(tmp_path):
    data = payload(300_000)
    with serve(Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0, http_port=0)) as tftp:
        tftp.start()
        tftp.storage.write_bytes("boot/vmlinuz", data)
        url = tftp.get_url()
        host, port = url.removeprefix("http://").rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0

        status, body, headers = fetch(f"{url}/boot/vmlinuz")
        assert status == 200 and body == data
        assert int(headers["content-length"]) == len(data)
        status, body, _ = fetch(f"{url}/boot/vmlinuz", {"Range": "bytes=1000-1999"})
        assert status == 206 and body == data[1000:2000]
        # The same file over TFTP, from the same process.
        with RawTftp(tftp.get_port()) as raw:
            assert raw.fetch("boot/vmlinuz", blksize="1428") == data
        with pytest.raises(urllib.error.HTTPError) as missing:
            fetch(f"{url}/nothing-here")
        assert missing.value.code == 404
        tftp.stop()
    assert refused("127.0.0.1", int(port))  # closed: the process ended
    assert not (tmp_path / "boot" / "vmlinuz").exists()  # removed on close


def test_http_port_fixed(tmp_path, unused_tcp_port):
    (tmp_path / "grub.cfg").write_bytes(b"set timeout=1\n")
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0, http_port=unused_tcp_port)
    try:
        assert driver.get_url() == f"http://127.0.0.1:{unused_tcp_port}"
        driver.start()
        assert driver.get_url() == f"http://127.0.0.1:{unused_tcp_port}"
        assert fetch(f"{driver.get_url()}/grub.cfg")[1] == b"set timeout=1\n"
        driver.stop()
        assert refused("127.0.0.1", unused_tcp_port)
    finally:
        driver.close()


def test_no_http_port_no_url(tmp_path):
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0)
    with pytest.raises(TftpError, match="http_port"):
        driver.get_url()
    with serve(driver) as tftp:
        with pytest.raises(TftpError, match="http_port"):
            tftp.get_url()
        assert driver.get_pid() is None  # asking did not start Volley


def test_http_port_in_use(tmp_path):
    with busy_tcp_port() as busy:
        port = busy.getsockname()[1]
        driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0, http_port=port)
        try:
            with pytest.raises(TftpError, match="cannot listen for HTTP"):
                driver.start()
            assert driver.get_pid() is None
        finally:
            driver.close()


def test_http_listen_is_the_drivers(tmp_path):
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0, settings={"http_listen": "127.0.0.1:0"})
    try:
        with pytest.raises(TftpError, match="http_listen is set by the driver"):
            driver.start()
    finally:
        driver.close()


# --- VolleyHttp ------------------------------------------------------------------------


def test_serves_exactly_between_start_and_stop(tmp_path, unused_tcp_port):
    data = payload(200_000, seed=2)
    driver = VolleyHttp(root_dir=str(tmp_path), host="127.0.0.1", port=unused_tcp_port)
    with serve(driver) as client:
        assert isinstance(client, VolleyHttpClient) and isinstance(client, HttpServerClient)
        # storage works before start(), with nothing listening on the port
        (tmp_path / "src").write_bytes(data)
        url = client.put_file("images/rootfs.img", tmp_path / "src")
        assert url == "http://127.0.0.1:0/images/rootfs.img"  # the stock driver's URL before start()
        assert refused("127.0.0.1", unused_tcp_port)

        client.start()
        assert client.get_port() == unused_tcp_port
        assert client.get_url() == f"http://127.0.0.1:{unused_tcp_port}"
        assert fetch(f"{client.get_url()}/images/rootfs.img")[1] == data
        assert client.storage.get_created_resources() == {"images/rootfs.img"}

        client.stop()  # the session holds a file: HTTP stops all the same
        assert refused("127.0.0.1", unused_tcp_port)
        assert client.get_port() == 0
        assert (tmp_path / "images" / "rootfs.img").read_bytes() == data
        assert client.storage.read_bytes("images/rootfs.img") == data

        client.start()
        assert fetch(f"{client.get_url()}/images/rootfs.img")[1] == data
        client.stop()
        client.stop()  # not running: a warning, as the stock driver
    assert not (tmp_path / "images").exists()  # removed on close, directory too
    assert (tmp_path / "src").exists()


def test_http_is_volleys(tmp_path, unused_tcp_port):
    """HEAD, ranges, conditional requests, and the TFTP root's confinement."""
    data = payload(5000, seed=3)
    (tmp_path / "kernel").write_bytes(data)
    (tmp_path / "kernel").chmod(0o644)
    with serve(VolleyHttp(root_dir=str(tmp_path), host="127.0.0.1", port=unused_tcp_port)) as client:
        client.start()
        connection = http.client.HTTPConnection("127.0.0.1", unused_tcp_port, timeout=30)
        connection.request("HEAD", "/kernel")
        head = connection.getresponse()
        head.read()
        assert head.status == 200 and int(head.getheader("Content-Length")) == len(data)
        connection.request("GET", "/kernel", headers={"Range": "bytes=-100"})
        tail = connection.getresponse()
        assert tail.status == 206 and tail.read() == data[-100:]
        connection.request("GET", "/../../etc/passwd")
        escape = connection.getresponse()
        escape.read()
        assert escape.status in (400, 403, 404)
        connection.close()
        client.stop()


def test_port_in_use_is_an_http_server_error(tmp_path):
    with busy_tcp_port() as busy:
        port = busy.getsockname()[1]
        driver = VolleyHttp(root_dir=str(tmp_path), host="127.0.0.1", port=port)
        with serve(driver) as client:
            with pytest.raises(HttpServerError, match="cannot listen for HTTP") as raised:
                client.start()
            assert isinstance(raised.value, StockHttpServerError)
            assert driver.get_pids() == []


def test_no_tftp_port(tmp_path, unused_tcp_port):
    """Neither `volley serve` of VolleyHttp binds a UDP port (TFTP stays stopped)."""
    driver = VolleyHttp(root_dir=str(tmp_path), host="127.0.0.1", port=unused_tcp_port)
    try:
        driver._connect()  # the `volley serve` storage goes through
        anyio.run(driver.start)  # the one that serves HTTP
        pids = driver.get_pids()
        assert len(pids) == 2 and set(pids) <= volley_pids()
        for pid in pids:
            inodes = set()
            for table in ("udp", "udp6"):
                with open(f"/proc/{pid}/net/{table}") as f:
                    inodes |= {line.split()[9] for line in f.read().splitlines()[1:]}
            sockets = set()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    sockets.add(target[len("socket:["):-1])
            assert not (sockets & inodes), f"volley {pid} has a UDP socket"
    finally:
        driver.close()
    assert driver.get_pids() == []


README_ENTRY = """
export:
  http:
    type: jumpstarter_driver_volley.driver.VolleyHttp
    config:
      root_dir: /var/www
      host: 192.168.1.100   # optional: auto-detected as the stock driver does
      port: 8080
"""


def test_readme_entry_instantiates(tmp_path):
    entry = yaml.safe_load(README_ENTRY)["export"]["http"]
    entry["config"]["root_dir"] = str(tmp_path / "www")  # the only change: a writable root
    driver = ExporterConfigV1Alpha1DriverInstance.model_validate(entry).instantiate()
    try:
        assert isinstance(driver, VolleyHttp)
        assert (driver.get_host(), driver.get_port()) == ("192.168.1.100", 0)
        assert driver.get_url() == "http://192.168.1.100:0"
        assert (tmp_path / "www").is_dir()
        assert driver.client() == "jumpstarter_driver_volley.http_client.VolleyHttpClient"
        assert set(driver.children) == {"storage"}
    finally:
        driver.close()


def test_entry_points():
    drivers = {e.name: e.value for e in entry_points(group="jumpstarter.drivers")}
    assert drivers["Volley"] == "jumpstarter_driver_volley.driver:Volley"
    assert drivers["VolleyHttp"] == "jumpstarter_driver_volley.driver:VolleyHttp"
