"""wait_for_transfer and transfers(): the driver watches Volley's event stream (GET /v1/events)."""

import threading
import time

import pytest
from helpers import RawTftp, curl_get

from jumpstarter.common.utils import serve
from jumpstarter_driver_volley.driver import TransferFailed, TransferTimeout, Volley


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "boot").mkdir()
    (root / "boot" / "vmlinuz").write_bytes(b"kernel" * 1000)
    with serve(Volley(root_dir=str(root), host="127.0.0.1", port=0, retransmit_timeout_ms=200, max_retries=2)) as client:
        client.start()
        yield client, tmp_path


def later(seconds, action):
    thread = threading.Timer(seconds, action)
    thread.start()
    return thread


def test_waits_for_a_real_fetch(served):
    client, tmp_path = served
    host, port = client.get_host(), client.get_port()
    # A fetch of another file first: not what is waited for.
    fetch = later(1.0, lambda: (curl_get(host, port, "missing.txt", tmp_path / "x"), curl_get(host, port, "boot/vmlinuz", tmp_path / "k")))
    event = client.wait_for_transfer("boot/vm*", timeout=30)
    fetch.join()
    assert event["file"] == "boot/vmlinuz" and event["outcome"] == "delivered"
    assert event["bytes"] == 6000 and event["client"].startswith("127.0.0.1:")
    assert (tmp_path / "k").read_bytes() == b"kernel" * 1000


def test_a_failed_transfer_raises(served):
    client, _ = served
    port = client.get_port()

    def abandon():
        # Take the first block and never acknowledge it: Volley gives up after its retries.
        with RawTftp(port) as raw:
            raw.send_rrq("boot/vmlinuz")
            raw.receive()
            time.sleep(5)

    thread = later(0.5, abandon)
    with pytest.raises(TransferFailed) as raised:
        client.wait_for_transfer("boot/vmlinuz", client="127.0.0.1", timeout=30)
    thread.join()
    assert "timed out" in str(raised.value)


def test_timeout_and_transfers_in_flight(served):
    client, _ = served
    started = time.monotonic()
    with pytest.raises(TransferTimeout):
        client.wait_for_transfer("boot/vmlinuz", client="10.9.9.9", timeout=1.5)
    assert 1.2 < time.monotonic() - started < 10
    assert client.transfers() == []
    with RawTftp(client.get_port()) as raw:
        raw.send_rrq("boot/vmlinuz")
        raw.receive()
        listed = client.transfers()
        assert [t["file"] for t in listed] == ["boot/vmlinuz"] and listed[0]["blksize"] == 512
