"""No volley process outlives its driver: stop, close, interpreter exit, or a killed exporter."""

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from helpers import RawTftp, pid_alive, volley_pids, wait_gone

from jumpstarter_driver_volley.driver import Volley

CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from jumpstarter_driver_volley.driver import Volley

    driver = Volley(root_dir=sys.argv[1], host="127.0.0.1", port=0)
    # Start from a worker thread that then ends, as Jumpstarter runs driver calls.
    worker = threading.Thread(target=driver.start)
    worker.start()
    worker.join()
    print(driver.get_pid(), driver.get_port(), flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)  # no stop(), no close(): the atexit hook must stop Volley
    time.sleep(600)
    """
)


def run_child(root, mode):
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), mode], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    pid, port = map(int, process.stdout.readline().split())
    return process, pid, port


def test_exporter_killed_volley_follows(tmp_path):
    (tmp_path / "f").write_bytes(b"still here")
    process, pid, port = run_child(tmp_path, "sleep")
    try:
        time.sleep(0.5)  # the starting worker thread has ended: Volley must still serve
        assert pid_alive(pid)
        with RawTftp(port) as raw:
            assert raw.fetch("f") == b"still here"
        process.send_signal(signal.SIGKILL)  # no atexit, no close(): only PR_SET_PDEATHSIG
        process.wait(10)
        assert wait_gone(pid, timeout=10), f"volley {pid} outlived its killed exporter"
    finally:
        process.kill()
        process.wait()
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_interpreter_exit_stops_volley(tmp_path):
    process, pid, _ = run_child(tmp_path, "exit")
    try:
        assert process.wait(20) == 0
        assert wait_gone(pid, timeout=10), f"volley {pid} outlived the interpreter"
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_start_in_a_thread_that_ends(tmp_path):
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0)
    worker = threading.Thread(target=driver.start)
    worker.start()
    worker.join()
    pid = driver.get_pid()
    time.sleep(0.5)
    assert pid_alive(pid)
    driver.close()
    assert wait_gone(pid, timeout=1)
    assert not volley_pids()


def test_volley_exits_by_itself(tmp_path):
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0)
    driver.start()
    pid = driver.get_pid()
    os.kill(pid, signal.SIGTERM)
    assert wait_gone(pid)
    deadline = time.monotonic() + 5
    while driver.get_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert driver.get_pid() is None
    driver.start()  # not running any more: start() starts a new one
    assert driver.get_pid() not in (None, pid)
    driver.close()
    assert not volley_pids()


def test_stderr_goes_to_the_logger(tmp_path, caplog):
    (tmp_path / "hello.txt").write_bytes(b"hello")
    caplog.set_level(logging.INFO)
    driver = Volley(root_dir=str(tmp_path), host="127.0.0.1", port=0)
    driver.start()
    try:
        with RawTftp(driver.get_port()) as raw:
            assert raw.fetch("hello.txt") == b"hello"
        deadline = time.monotonic() + 5
        while "delivered" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "hello.txt" in caplog.text and "delivered" in caplog.text
        # Volley logs JSON lines; the driver logs their message at their level, not the raw JSON.
        delivered = [r for r in caplog.records if "delivered" in r.getMessage()]
        assert delivered and all(r.levelno == logging.INFO for r in delivered)
        assert not any('"level"' in r.getMessage() for r in caplog.records), caplog.text
    finally:
        driver.close()
