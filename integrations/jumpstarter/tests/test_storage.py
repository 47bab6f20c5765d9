"""The `storage` child over Volley's control plane: the stock OpendalClient's calls, with bytes compared."""

import hashlib
import random

import pytest

from jumpstarter.client.core import DriverError
from jumpstarter.common.utils import serve
from jumpstarter_driver_volley.driver import Volley


@pytest.fixture
def storage(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "pre").mkdir()
    (root / "pre" / "existing.bin").write_bytes(b"existing")
    with serve(Volley(root_dir=str(root), host="127.0.0.1", port=0)) as client:
        yield client.storage, root


def test_large_file_round_trip(storage, tmp_path):
    """Written and read in chunks (several MiB through the streamed upload and download)."""
    client, root = storage
    data = random.Random(7).randbytes(9 * 1024 * 1024 + 123)
    source = tmp_path / "big.src"
    source.write_bytes(data)
    client.write_from_path("images/big.bin", source)
    assert (root / "images" / "big.bin").read_bytes() == data
    client.read_into_path("images/big.bin", tmp_path / "big.out")
    assert (tmp_path / "big.out").read_bytes() == data
    assert client.read_bytes("images/big.bin") == data
    assert client.hash("images/big.bin") == hashlib.sha256(data).hexdigest()
    assert client.hash("images/big.bin", "md5") == hashlib.md5(data).hexdigest()
    stat = client.stat("images/big.bin")
    assert stat.mode.is_file() and stat.content_length == len(data)


def test_directories_list_scan_stat(storage):
    client, root = storage
    client.write_bytes("boot/efi/grubx64.efi", b"grub")
    client.write_bytes("boot/vmlinuz", b"kernel")
    assert sorted(client.list("/")) == ["boot/", "pre/"]
    assert sorted(client.list("boot/")) == ["boot/efi/", "boot/vmlinuz"]
    assert sorted(client.scan("/")) == ["boot/", "boot/efi/", "boot/efi/grubx64.efi", "boot/vmlinuz", "pre/", "pre/existing.bin"]
    assert client.stat("boot/").mode.is_dir() and client.stat("boot").mode.is_dir()
    assert client.exists("boot/efi/") and client.exists("boot/vmlinuz") and not client.exists("nothing/")
    with pytest.raises(DriverError):
        client.stat("missing.bin")
    client.create_dir("later/")  # checked, and made with its first file
    client.write_bytes("later/x", b"x")
    assert (root / "later" / "x").read_bytes() == b"x"


def test_copy_rename_delete_remove_all(storage):
    client, root = storage
    client.write_bytes("a.bin", b"alpha")
    client.copy("a.bin", "copies/a.bin")
    assert (root / "copies" / "a.bin").read_bytes() == b"alpha"
    client.rename("copies/a.bin", "moved/a.bin")
    assert not (root / "copies" / "a.bin").exists()
    assert (root / "moved" / "a.bin").read_bytes() == b"alpha"
    client.delete("a.bin")
    client.delete("a.bin")  # deleting what is not there succeeds, as in OpenDAL
    assert not (root / "a.bin").exists()
    client.write_bytes("tree/one", b"1")
    client.write_bytes("tree/sub/two", b"2")
    client.remove_all("tree/")
    assert not (root / "tree" / "one").exists() and not (root / "tree" / "sub" / "two").exists()
    assert (root / "pre" / "existing.bin").read_bytes() == b"existing"


def test_streamed_files_refuse_what_they_cannot_do(storage):
    client, root = storage
    reader = client.open("pre/existing.bin", "rb")
    try:
        assert reader.readable() and not reader.seekable() and not reader.writable()
        assert reader.seek(0) == 0  # where it is: fine
        with pytest.raises(DriverError):
            reader.seek(3)
        assert reader.read_bytes() == b"existing"
        assert reader.tell() == len(b"existing")
    finally:
        reader.close()
    writer = client.open("half.bin", "wb")
    writer.write_bytes(b"first ")
    writer.write_bytes(b"second")
    assert not (root / "half.bin").exists(), "a file being written is visible before it is closed"
    writer.close()
    assert (root / "half.bin").read_bytes() == b"first second"
    assert client.capability().write_can_append is False
