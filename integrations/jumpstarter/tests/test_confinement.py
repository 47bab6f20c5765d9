"""Nothing outside root_dir is reachable: not through storage, the file API, or TFTP.

Volley decides (the driver sends every path to its control plane as it is): `openat2`
beneath the root refuses `..` and symbolic links that leave it, and a leading `/` means
the root, as in TFTP and in OpenDAL's `fs` backend.
"""

import os

import pytest
from helpers import RawTftp, TftpErrorPacket, curl_get, tftp_hpa_get

from jumpstarter.client.core import DriverError
from jumpstarter.common.utils import serve
from jumpstarter_driver_volley.driver import TftpError, Volley


@pytest.fixture
def layout(tmp_path):
    """tmp/root (served), tmp/outside/secret.txt, and root/link -> tmp/outside."""
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (tmp_path / "beside.txt").write_bytes(b"beside the root")
    (root / "link").symlink_to(outside)
    (root / "inside.txt").write_bytes(b"inside")
    return tmp_path


@pytest.fixture
def client(layout):
    with serve(Volley(root_dir=str(layout / "root"), host="127.0.0.1", port=0)) as client:
        client.start()
        yield client


REFUSED = [
    "../escape.txt",
    "../../escape.txt",
    "a/../../escape.txt",
    "a/../b.txt",  # stays inside, but '..' is refused outright
    "..\\escape.txt",
    "link/escape.txt",
    "link/secret.txt",
]


@pytest.mark.parametrize("path", REFUSED)
def test_storage_refuses_writes_outside(client, layout, path):
    before = sorted(p for p in layout.rglob("*"))
    with pytest.raises(DriverError) as raised:
        client.storage.write_bytes(path, b"x")
    assert isinstance(raised.value, ValueError)  # DriverInvalidArgument
    assert sorted(p for p in layout.rglob("*")) == before
    assert not (layout / "escape.txt").exists()
    assert (layout / "outside" / "secret.txt").read_bytes() == b"secret"


def test_absolute_paths_are_inside_the_root(client, layout):
    client.storage.write_bytes("/etc/escape.txt", b"x")
    assert (layout / "root" / "etc" / "escape.txt").read_bytes() == b"x"
    assert client.storage.read_bytes("/etc/escape.txt") == b"x"
    assert not (layout / "escape.txt").exists()
    assert not client.check_file_checksum("/etc/passwd", "0" * 64)


def test_storage_refuses_reads_and_other_calls_outside(client, layout):
    for call in (
        lambda: client.storage.read_bytes("../beside.txt"),
        lambda: client.storage.read_bytes("link/secret.txt"),
        lambda: client.storage.stat("../beside.txt"),
        lambda: client.storage.exists("../beside.txt"),
        lambda: client.storage.hash("link/secret.txt"),
        lambda: list(client.storage.list("../")),
        lambda: list(client.storage.list("link/")),
        lambda: client.storage.copy("inside.txt", "../copied.txt"),
        lambda: client.storage.copy("../beside.txt", "copied.txt"),
        lambda: client.storage.rename("inside.txt", "../renamed.txt"),
        lambda: client.storage.delete("../beside.txt"),
        lambda: client.storage.delete("link/secret.txt"),
        lambda: client.storage.remove_all("link/"),
        lambda: client.storage.remove_all("/"),
        lambda: client.storage.create_dir("../newdir/"),
    ):
        with pytest.raises(DriverError):
            call()
    assert (layout / "beside.txt").read_bytes() == b"beside the root"
    assert (layout / "outside" / "secret.txt").read_bytes() == b"secret"
    assert (layout / "root" / "inside.txt").read_bytes() == b"inside"
    assert not (layout / "copied.txt").exists() and not (layout / "renamed.txt").exists()
    assert not (layout / "newdir").exists()


def test_storage_inside_still_works(client, layout):
    assert "inside.txt" in list(client.storage.list("/"))
    assert client.storage.read_bytes("inside.txt") == b"inside"
    assert client.storage.read_bytes("./inside.txt") == b"inside"
    client.storage.write_bytes("sub/dir/file.txt", b"ok")
    assert client.storage.exists("sub/dir/file.txt")
    assert "sub/dir/file.txt" in list(client.storage.scan("/"))


def test_file_api_refuses_outside(client, layout, tmp_path):
    for name in ("../beside.txt", "link/secret.txt"):
        with pytest.raises(TftpError):
            client.delete_file(name)
        with pytest.raises(TftpError):
            client.check_file_checksum(name, "0" * 64)
    with pytest.raises(TftpError):  # the root's etc/passwd, which does not exist
        client.delete_file("/etc/passwd")
    local = tmp_path / "upload.bin"
    local.write_bytes(b"upload")
    for name in ("../escape.txt", "link/escape.txt"):
        with pytest.raises(TftpError):
            client.put_local_file(str(local), name)
    assert not (layout / "escape.txt").exists()
    assert not (layout / "outside" / "escape.txt").exists()
    assert (layout / "beside.txt").exists() and (layout / "outside" / "secret.txt").exists()
    assert "link/secret.txt" not in client.list_files()


def test_tftp_refuses_outside(client, layout, tmp_path):
    host, port = client.get_host(), client.get_port()
    names = [
        "../beside.txt",
        "../../beside.txt",
        "link/secret.txt",
        str(layout / "beside.txt"),  # absolute: taken as root-relative, so not found
        "..\\beside.txt",
    ]
    with RawTftp(port) as raw:
        for name in names:
            with pytest.raises(TftpErrorPacket):
                raw.fetch(name)
    for name in names:
        out = tmp_path / "out"
        result = curl_get(host, port, name, out)
        assert result.returncode != 0
        assert not out.exists() or out.read_bytes() not in (b"secret", b"beside the root")
        tftp_hpa_get(host, port, name, out)
        assert not out.exists() or out.read_bytes() not in (b"secret", b"beside the root")
    # Symbolic links inside the root still work for files inside it.
    os.symlink("inside.txt", layout / "root" / "alias.txt")
    with RawTftp(port) as raw:
        assert raw.fetch("alias.txt") == b"inside"
