"""The server tests of jumpstarter-driver-tftp 0.9.0 (server_test.py, test_path_traversal.py),
ported as black-box protocol tests: the stock tests poke the Python server's internals;
these send the same packets to Volley, run by the driver, and check the answers on the wire.
"""

import struct
import time

import pytest
from helpers import RawTftp, TftpErrorPacket

from jumpstarter_driver_volley.driver import Volley

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6
ACCESS_VIOLATION = 2
FILE_NOT_FOUND = 1


@pytest.fixture
def tftp_server(tmp_path):
    (tmp_path / "test.txt").write_text("Hello, TFTP!")
    server = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0, retransmit_timeout_ms=300)
    server.start()
    try:
        yield server, tmp_path, server.get_port()
    finally:
        server.close()


def error_code(payload: bytes) -> int:
    return struct.unpack("!H", payload[:2])[0]


def test_server_startup_and_shutdown(tftp_server):
    server, _, port = tftp_server
    pid = server.get_pid()
    assert pid is not None
    server.stop()
    assert server.get_pid() is None
    server.start()
    assert server.get_pid() is not None


def test_read_request_for_existing_file(tftp_server):
    _, _, port = tftp_server
    with RawTftp(port) as client:
        assert client.fetch("test.txt") == b"Hello, TFTP!"


def test_read_request_for_nonexistent_file(tftp_server):
    _, _, port = tftp_server
    with RawTftp(port) as client:
        client.send_rrq("nonexistent.txt")
        opcode, payload, _ = client.receive()
        assert opcode == ERROR
        assert error_code(payload) == FILE_NOT_FOUND


def test_write_request_rejection(tftp_server):
    _, root, port = tftp_server
    with RawTftp(port) as client:
        client.send_raw(struct.pack("!H", WRQ) + b"test.txt\0octet\0")
        opcode, payload, _ = client.receive()
        assert opcode == ERROR
        assert error_code(payload) == ACCESS_VIOLATION
    assert (root / "test.txt").read_text() == "Hello, TFTP!"


def test_invalid_packet_handling(tftp_server):
    _, _, port = tftp_server
    with RawTftp(port, timeout=0.5) as client:
        for garbage in (b"\x00\x01", b"\x00", b"\x00\x09garbage", b"\x00\x01name-without-nul"):
            client.send_raw(garbage)
            # Volley answers a malformed request with ERROR 4 (illegal operation), or drops it.
            try:
                opcode, payload, _ = client.receive()
                assert (opcode, error_code(payload)) == (ERROR, 4)
            except TimeoutError:
                pass
        # Still serving.
        assert client.fetch("test.txt") == b"Hello, TFTP!"


@pytest.mark.parametrize("name", ["../../../etc/passwd", "..", "../etc/passwd", "subdir/../../../etc/passwd", "subdir/.."])
def test_path_traversal_prevention(tftp_server, name):
    _, _, port = tftp_server
    with RawTftp(port) as client:
        client.send_rrq(name)
        opcode, payload, _ = client.receive()
        assert opcode == ERROR
        assert error_code(payload) in (FILE_NOT_FOUND, ACCESS_VIOLATION)


def test_sends_access_violation_on_traversal(tftp_server):
    _, _, port = tftp_server
    with RawTftp(port) as client:
        client.send_rrq("../secret")
        opcode, payload, _ = client.receive()
        assert opcode == ERROR
        assert error_code(payload) == ACCESS_VIOLATION


def test_absolute_path_stays_in_root(tftp_server):
    """/etc/passwd is never the host's: Volley reads a leading / as the root."""
    _, root, port = tftp_server
    with RawTftp(port) as client:
        with pytest.raises(TftpErrorPacket) as raised:
            client.fetch("/etc/passwd")
        assert raised.value.code == FILE_NOT_FOUND
        (root / "etc").mkdir()
        (root / "etc" / "passwd").write_bytes(b"root-relative")
        assert client.fetch("/etc/passwd") == b"root-relative"


@pytest.mark.parametrize("name", ["boot.img", "file..name.txt"])
def test_allows_valid_filenames(tftp_server, name):
    _, root, port = tftp_server
    (root / name).write_bytes(b"valid")
    with RawTftp(port) as client:
        assert client.fetch(name) == b"valid"


def test_options_negotiation(tftp_server):
    _, _, port = tftp_server
    with RawTftp(port) as client:
        client.send_rrq("test.txt", blksize="1024", timeout="3")
        opcode, payload, _ = client.receive()
        assert opcode == OACK
        fields = payload.split(b"\0")[:-1]
        assert dict(zip(fields[0::2], fields[1::2])) == {b"blksize": b"1024", b"timeout": b"3"}
        assert client.fetch("test.txt", blksize="1024", timeout="3") == b"Hello, TFTP!"


def test_retry_mechanism(tftp_server):
    """Without an ACK the server resends DATA 1 (retransmit_timeout_ms=300 here)."""
    _, _, port = tftp_server
    with RawTftp(port, timeout=2) as client:
        client.send_rrq("test.txt")
        packets = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                packets.append(client.receive())
            except TimeoutError:
                break
        data = [payload for opcode, payload, _ in packets if opcode == DATA]
        assert len(data) > 1, "the server should have resent DATA"
        assert {struct.unpack("!H", p[:2])[0] for p in data} == {1}
        # Each resend comes from the same transfer port (TID).
        assert len({address for _, _, address in packets}) == 1


def test_invalid_options_handling(tftp_server):
    _, _, port = tftp_server
    with RawTftp(port) as client:
        client.send_rrq("test.txt", blksize="invalid", timeout="999999")
        opcode, payload, address = client.receive()
        # Nothing acceptable was asked for: no OACK, the data starts at once.
        assert opcode == DATA
        assert payload == struct.pack("!H", 1) + b"Hello, TFTP!"
        client.ack(1, address)
