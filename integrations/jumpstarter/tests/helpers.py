"""Helpers shared by the tests: real TFTP clients, a raw TFTP socket, process checks."""

import os
import socket
import struct
import subprocess
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def volley_pids() -> set[int]:
    """PIDs of the live processes running $VOLLEY_BINARY that this test process started."""
    me = os.getpid()
    binary = os.path.realpath(os.environ["VOLLEY_BINARY"])
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
            if int(status.get("PPid", "0")) != me or status.get("State", "").startswith("Z"):
                continue
            if os.path.realpath(f"/proc/{entry}/exe") == binary:
                pids.add(int(entry))
        except (OSError, ValueError):
            continue
    return pids


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def curl_get(host: str, port: int, name: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["curl", "-s", "--max-time", "30", *extra, "-o", str(out), f"tftp://{host}:{port}/{name}"],
        capture_output=True,
        timeout=60,
    )


def tftp_hpa_get(host: str, port: int, name: str, out: Path) -> subprocess.CompletedProcess:
    # tftp-hpa exits 0 even when the server answers with an error: callers compare bytes.
    return subprocess.run(
        ["tftp", host, str(port), "-m", "binary", "-c", "get", name, str(out)],
        capture_output=True,
        timeout=60,
    )


def atftp_get(host: str, port: int, name: str, out: Path, *options: str) -> subprocess.CompletedProcess:
    argv = ["atftp"]
    for option in options:
        argv += ["--option", option]
    argv += ["--trace", "-g", "-r", name, "-l", str(out), host, str(port)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


class RawTftp:
    """A bare TFTP client socket for checking single packets."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 3.0):
        self.server = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_rrq(self, name: bytes | str, mode: bytes = b"octet", **options: str):
        if isinstance(name, str):
            name = name.encode()
        packet = struct.pack("!H", 1) + name + b"\0" + mode + b"\0"
        for key, value in options.items():
            packet += key.encode() + b"\0" + str(value).encode() + b"\0"
        self.sock.sendto(packet, self.server)

    def send_raw(self, packet: bytes):
        self.sock.sendto(packet, self.server)

    def receive(self):
        """(opcode, payload, address) of the next packet."""
        data, address = self.sock.recvfrom(70000)
        return struct.unpack("!H", data[:2])[0], data[2:], address

    def ack(self, block: int, address):
        self.sock.sendto(struct.pack("!HH", 4, block), address)

    def error(self, code: int, address, message: bytes = b""):
        self.sock.sendto(struct.pack("!HH", 5, code) + message + b"\0", address)

    def fetch(self, name: str, **options: str) -> bytes:
        """A whole lockstep transfer (blksize 512 unless negotiated)."""
        self.send_rrq(name, **options)
        data = b""
        blksize = 512
        while True:
            opcode, payload, address = self.receive()
            if opcode == 6:  # OACK
                fields = payload.split(b"\0")
                negotiated = dict(zip(fields[0::2], fields[1::2]))
                blksize = int(negotiated.get(b"blksize", b"512"))
                self.ack(0, address)
                continue
            if opcode == 5:
                code = struct.unpack("!H", payload[:2])[0]
                raise TftpErrorPacket(code, payload[2:].rstrip(b"\0").decode(errors="replace"))
            assert opcode == 3, opcode
            block = struct.unpack("!H", payload[:2])[0]
            data += payload[2:]
            self.ack(block, address)
            if len(payload) - 2 < blksize:
                return data


class TftpErrorPacket(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(f"ERROR {code}: {message}")
        self.code = code
        self.message = message
