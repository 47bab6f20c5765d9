"""The driver under jumpstarter.common.utils.serve, driven through its client over gRPC."""

import os
import random
import socket
from types import SimpleNamespace

import jumpstarter_driver_tftp.driver as stock
import pytest
from helpers import curl_get, pid_alive, tftp_hpa_get, volley_pids, wait_gone
from opendal import Operator

from jumpstarter.common.utils import serve
from jumpstarter_driver_volley.client import VolleyServerClient
from jumpstarter_driver_volley.driver import FileNotFound, ServerNotRunning, TftpError, Volley


def payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def served(root):
    driver = Volley(root_dir=str(root), host="127.0.0.1", port=0)
    with serve(driver) as client:
        client.start()
        yield SimpleNamespace(driver=driver, client=client, root=root)
    assert driver.get_pid() is None


def test_client_class(served):
    assert isinstance(served.client, VolleyServerClient)
    assert served.client.get_host() == "127.0.0.1"
    assert served.client.get_port() not in (0, 69)


def test_fetch_with_curl_and_tftp_hpa(served, tmp_path):
    data = payload(3 * 1024 * 1024 + 777)
    (served.root / "kernel.img").write_bytes(data)
    host, port = served.client.get_host(), served.client.get_port()

    result = curl_get(host, port, "kernel.img", tmp_path / "curl.out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "curl.out").read_bytes() == data

    tftp_hpa_get(host, port, "kernel.img", tmp_path / "hpa.out")
    assert (tmp_path / "hpa.out").read_bytes() == data


def test_storage_writes_then_fetch(served, tmp_path):
    host, port = served.client.get_host(), served.client.get_port()
    served.client.storage.write_bytes("hello.txt", b"hello from storage\n")
    local = tmp_path / "vmlinuz"
    local.write_bytes(payload(200_000, seed=2))
    served.client.storage.write_from_path("boot/vmlinuz", local)

    assert curl_get(host, port, "hello.txt", tmp_path / "a").returncode == 0
    assert (tmp_path / "a").read_bytes() == b"hello from storage\n"
    assert curl_get(host, port, "boot/vmlinuz", tmp_path / "b").returncode == 0
    assert (tmp_path / "b").read_bytes() == local.read_bytes()
    tftp_hpa_get(host, port, "boot/vmlinuz", tmp_path / "c")
    assert (tmp_path / "c").read_bytes() == local.read_bytes()


def test_list_files(served):
    (served.root / "pre.txt").write_bytes(b"pre")
    served.client.storage.write_bytes("boot/dtb/board.dtb", b"dtb")
    served.client.storage.write_bytes("initrd.img", b"initrd")
    assert served.client.list_files() == ["boot/dtb/board.dtb", "initrd.img", "pre.txt"]


def test_delete_file(served):
    served.client.storage.write_bytes("gone.txt", b"x")
    assert served.client.delete_file("gone.txt") == "gone.txt"
    assert "gone.txt" not in served.client.list_files()
    assert not (served.root / "gone.txt").exists()

    with pytest.raises(FileNotFound) as raised:
        served.client.delete_file("nonexistent.txt")
    error = raised.value
    assert "nonexistent.txt" in str(error) and "[volley:" not in str(error)
    # The same error is a TftpError of ours and of the stock driver, and a FileNotFoundError.
    assert isinstance(error, TftpError) and isinstance(error, stock.TftpError)
    assert isinstance(error, FileNotFoundError)


def test_put_local_file_skips_identical_upload(served, tmp_path):
    local = tmp_path / "initrd.img"
    local.write_bytes(payload(1_500_000, seed=3))
    assert served.client.put_local_file(str(local)) == "initrd.img"
    on_server = served.root / "initrd.img"
    assert on_server.read_bytes() == local.read_bytes()
    first = os.stat(on_server)

    # Same content: no upload, so the file on the server is untouched (an upload always
    # writes a new file and renames it over the old one: a new inode).
    assert served.client.put_local_file(str(local)) == "initrd.img"
    second = os.stat(on_server)
    assert (second.st_ino, second.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)

    # Different content: uploaded.
    local.write_bytes(payload(1_000, seed=4))
    served.client.put_local_file(str(local))
    third = os.stat(on_server)
    assert third.st_ino != first.st_ino
    assert on_server.read_bytes() == local.read_bytes()

    result = curl_get(served.client.get_host(), served.client.get_port(), "initrd.img", tmp_path / "out")
    assert result.returncode == 0
    assert (tmp_path / "out").read_bytes() == local.read_bytes()


def test_put_file_from_operator_and_checksum(served, tmp_path):
    source = tmp_path / "images"
    source.mkdir()
    (source / "board.dtb").write_bytes(b"device tree")
    operator = Operator("fs", root=str(source))
    assert served.client.put_file(operator, "board.dtb") == "board.dtb"
    assert served.client.put_file(operator, "board.dtb", "boot/board.dtb") == "boot/board.dtb"
    assert (served.root / "boot" / "board.dtb").read_bytes() == b"device tree"

    import hashlib

    digest = hashlib.sha256(b"device tree").hexdigest()
    assert served.client.check_file_checksum("board.dtb", digest)
    assert not served.client.check_file_checksum("board.dtb", hashlib.sha256(b"other").hexdigest())
    assert not served.client.check_file_checksum("missing.dtb", digest)


def test_stop_stop_start(served, tmp_path):
    (served.root / "f.txt").write_bytes(b"content")
    pid = served.driver.get_pid()
    assert pid is not None and pid_alive(pid)

    port = served.client.get_port()
    served.client.stop()
    # Nothing to remove on close: Volley has exited, and the TFTP port is free again.
    assert wait_gone(pid, timeout=1), "stop() returned while volley was still running"
    assert served.driver.get_pid() is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))
    assert "f.txt" in served.client.list_files()  # the file API works while stopped

    with pytest.raises(ServerNotRunning) as raised:
        served.client.stop()
    assert isinstance(raised.value, stock.ServerNotRunning)
    assert str(raised.value) == "TFTP server is not running"

    served.client.start()
    assert served.driver.get_pid() not in (None, pid)
    result = curl_get(served.client.get_host(), served.client.get_port(), "f.txt", tmp_path / "out")
    assert result.returncode == 0
    assert (tmp_path / "out").read_bytes() == b"content"


def test_stop_keeps_volley_for_created_files(served, tmp_path):
    """Files the driver created keep Volley up across stop(), so that close() removes them."""
    served.client.storage.write_bytes("made.txt", b"made")
    pid = served.driver.get_pid()
    port = served.client.get_port()
    served.client.stop()
    assert served.driver.get_pid() == pid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))  # the TFTP service is stopped all the same
    served.client.start()
    assert served.driver.get_pid() == pid
    result = curl_get(served.client.get_host(), served.client.get_port(), "made.txt", tmp_path / "out")
    assert result.returncode == 0 and (tmp_path / "out").read_bytes() == b"made"


def test_start_when_running_is_a_warning(served, caplog):
    pid = served.driver.get_pid()
    served.client.start()
    assert served.driver.get_pid() == pid
    assert "already running" in caplog.text


def test_close_removes_created_files_and_the_process(root, tmp_path):
    (root / "pre-existing.txt").write_bytes(b"keep me")
    (root / "overwritten.txt").write_bytes(b"old")
    (root / "kept-dir").mkdir()
    local = tmp_path / "local.bin"
    local.write_bytes(b"uploaded")

    driver = Volley(root_dir=str(root), host="127.0.0.1", port=0)
    with serve(driver) as client:
        client.start()
        pid = driver.get_pid()
        client.storage.write_bytes("created.txt", b"temporary")
        client.storage.write_bytes("boot/efi/grubx64.efi", b"temporary too")
        client.storage.write_bytes("kept-dir/inner.txt", b"temporary three")
        client.storage.write_bytes("overwritten.txt", b"new")
        client.put_local_file(str(local))
        client.put_local_file(str(local), "uploads/local.bin")
        assert set(client.list_files()) >= {
            "created.txt", "boot/efi/grubx64.efi", "local.bin", "uploads/local.bin", "pre-existing.txt",
        }

    assert wait_gone(pid, timeout=1)
    assert pid not in volley_pids()
    remaining = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert remaining == ["kept-dir", "overwritten.txt", "pre-existing.txt"]
    assert (root / "pre-existing.txt").read_bytes() == b"keep me"
    assert (root / "overwritten.txt").read_bytes() == b"new"


def test_remove_created_on_close_false_keeps_files(root):
    driver = Volley(root_dir=str(root), host="127.0.0.1", port=0, remove_created_on_close=False)
    with serve(driver) as client:
        client.start()
        client.storage.write_bytes("boot/keep.txt", b"stays")
    assert (root / "boot" / "keep.txt").read_bytes() == b"stays"


def test_close_without_start(root):
    driver = Volley(root_dir=str(root), host="127.0.0.1", port=0)
    with serve(driver) as client:
        client.storage.write_bytes("x.txt", b"x")
        with pytest.raises(ServerNotRunning):
            client.stop()
    assert not (root / "x.txt").exists()


def test_files_written_through_the_driver_are_world_readable(served, tmp_path):
    """Even under umask 077, what the driver writes can be served (Volley may insist on o+r)."""
    local = tmp_path / "local.bin"
    local.write_bytes(b"uploaded")
    source = tmp_path / "exporter-side.bin"
    source.write_bytes(b"copied on the exporter")
    old = os.umask(0o077)
    try:
        served.client.storage.write_bytes("boot/storage.bin", b"written")
        served.client.put_local_file(str(local))
        served.client.storage.copy("boot/storage.bin", "copy.bin")
        import anyio

        anyio.run(served.driver.storage.copy_exporter_file, source, "exporter.bin")
    finally:
        os.umask(old)
    host, port = served.client.get_host(), served.client.get_port()
    expected = {
        "boot/storage.bin": b"written",
        "local.bin": b"uploaded",
        "copy.bin": b"written",
        "exporter.bin": b"copied on the exporter",
    }
    for name, content in expected.items():
        assert os.stat(served.root / name).st_mode & 0o444 == 0o444, name
        result = curl_get(host, port, name, tmp_path / "out")
        assert result.returncode == 0, name
        assert (tmp_path / "out").read_bytes() == content
