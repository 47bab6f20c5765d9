"""Option negotiation through the driver's server, seen by atftp (--trace prints the OACK)."""

import random
import re

import pytest
from helpers import atftp_get

from jumpstarter.common.utils import serve
from jumpstarter_driver_volley.driver import Volley


def oack(trace: str) -> dict[str, str]:
    """The options of the OACK atftp received, from its --trace output."""
    for line in trace.splitlines():
        if "received OACK" in line:
            return dict(re.findall(r"(\w+): (\d+)", line.split("received OACK", 1)[1]))
    raise AssertionError(f"no OACK in atftp's trace:\n{trace}")


def test_windowsize_8_and_blksize_1428(tmp_path):
    data = random.Random(5).randbytes(1428 * 8 * 30 + 99)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "big.bin").write_bytes(data)
    with serve(Volley(root_dir=str(tmp_path / "root"), host="127.0.0.1", port=0)) as client:
        client.start()
        result = atftp_get(
            client.get_host(), client.get_port(), "big.bin", tmp_path / "out",
            "blksize 1428", "windowsize 8", "tsize 0",
        )
        trace = result.stdout + result.stderr
        assert result.returncode == 0, trace
        assert oack(trace) == {"blksize": "1428", "windowsize": "8", "tsize": str(len(data))}
        assert (tmp_path / "out").read_bytes() == data


def test_settings_reach_volley(tmp_path):
    """max_block_size and max_window_size from the driver configuration cap what is negotiated."""
    data = random.Random(6).randbytes(100_000)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f.bin").write_bytes(data)
    driver = Volley(
        root_dir=str(tmp_path / "root"), host="127.0.0.1", port=0,
        max_block_size=1024, max_window_size=4, retransmit_timeout_ms=500,
    )
    with serve(driver) as client:
        client.start()
        result = atftp_get(
            client.get_host(), client.get_port(), "f.bin", tmp_path / "out",
            "blksize 1428", "windowsize 8",
        )
        trace = result.stdout + result.stderr
        assert result.returncode == 0, trace
        assert oack(trace) == {"blksize": "1024", "windowsize": "4"}
        assert (tmp_path / "out").read_bytes() == data


def test_any_volley_setting_through_settings(tmp_path):
    """`settings` takes any key `volley settings --json` lists: here max_window_size and a
    per-client limit the driver has no field for."""
    data = random.Random(7).randbytes(50_000)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f.bin").write_bytes(data)
    driver = Volley(
        root_dir=str(tmp_path / "root"), host="127.0.0.1", port=0,
        settings={"max_window_size": 2, "max_transfers_per_client": 0},
    )
    assert driver.volley_configuration()["max_transfers_per_client"] == 0
    with serve(driver) as client:
        client.start()
        result = atftp_get(
            client.get_host(), client.get_port(), "f.bin", tmp_path / "out", "blksize 1428", "windowsize 8",
        )
        trace = result.stdout + result.stderr
        assert result.returncode == 0, trace
        assert oack(trace) == {"blksize": "1428", "windowsize": "2"}
        assert (tmp_path / "out").read_bytes() == data


def test_unknown_setting_is_refused_by_name(tmp_path):
    """A key Volley does not export is refused at start, naming it, before Volley runs."""
    from jumpstarter_driver_volley.driver import TftpError

    driver = Volley(root_dir=str(tmp_path / "root"), host="127.0.0.1", port=0, settings={"max_blok_size": 1024})
    with pytest.raises(TftpError, match="max_blok_size"):
        driver.start()
    driver = Volley(root_dir=str(tmp_path / "root"), host="127.0.0.1", port=0, settings={"port": 70})
    with pytest.raises(TftpError, match="driver field"):
        driver.start()
    driver = Volley(root_dir=str(tmp_path / "root"), host="127.0.0.1", port=0, settings={"log_format": "text"})
    with pytest.raises(TftpError, match="log_format"):
        driver.start()
