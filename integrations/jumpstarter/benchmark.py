#!/usr/bin/env python3
"""Time curl fetching one file from the stock driver's server and from Volley, on loopback.

    VOLLEY_BINARY=path/to/volley .venv/bin/python benchmark.py [--size-mib 32] [--rounds 5] [--blksize 1468]

Both servers are started through their Jumpstarter drivers (jumpstarter_driver_tftp.driver.Tftp
and jumpstarter_driver_volley.driver.Volley) on 127.0.0.1, serving the same file from the same
directory; rounds alternate between them. VOLLEY_BINARY (or volley on PATH) is the server
under test. Prints each time and the medians. curl speaks TFTP in lockstep (no windowsize).
"""

import argparse
import hashlib
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from jumpstarter_driver_tftp.driver import Tftp

from jumpstarter_driver_volley.driver import Volley


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port: int, name: str, out: str, blksize: int, timeout: float) -> float:
    command = [
        "curl", "-s", "--max-time", str(int(timeout)), "--tftp-blksize", str(blksize),
        "-o", out, f"tftp://127.0.0.1:{port}/{name}",
    ]
    started = time.monotonic()
    subprocess.run(command, check=True)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--blksize", type=int, default=1468)
    parser.add_argument("--timeout", type=float, default=120, help="seconds allowed per fetch")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        os.mkdir(root)
        data = os.urandom(args.size_mib * 1024 * 1024)
        with open(os.path.join(root, "image.bin"), "wb") as f:
            f.write(data)
        expected = hashlib.sha256(data).hexdigest()
        out = os.path.join(tmp, "out.bin")

        stock = Tftp(root_dir=root, host="127.0.0.1", port=free_port(), remove_created_on_close=False, log_level="WARNING")
        volley = Volley(root_dir=root, host="127.0.0.1", port=0, remove_created_on_close=False, log_level="warning")
        stock.start()
        volley.start()
        time.sleep(0.5)  # the stock driver's start() returns before its socket is bound
        servers = {"jumpstarter_driver_tftp": stock, "volley": volley}
        times = {name: [] for name in servers}
        try:
            for round_ in range(1, args.rounds + 1):
                order = list(servers.items()) if round_ % 2 else list(reversed(servers.items()))
                for name, server in order:
                    seconds = fetch(server.get_port(), "image.bin", out, args.blksize, args.timeout)
                    with open(out, "rb") as f:
                        if hashlib.sha256(f.read()).hexdigest() != expected:
                            sys.exit(f"{name}: the fetched file differs")
                    times[name].append(seconds)
                    print(f"round {round_}: {name:24} {seconds:7.3f} s", flush=True)
        finally:
            volley.close()
            stock.close()

    print(f"\n{args.size_mib} MiB, curl --tftp-blksize {args.blksize}, {args.rounds} interleaved rounds, medians:")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        rate = args.size_mib * 1024 * 1024 / median / 1e6
        print(f"  {name:24} {median:7.3f} s  ({rate:6.1f} MB/s)")
    print(f"  speed-up: {medians['jumpstarter_driver_tftp'] / medians['volley']:.1f}x")


if __name__ == "__main__":
    main()
