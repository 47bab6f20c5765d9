"""The driver tests of jumpstarter-driver-http 0.9.0, ported with VolleyHttp in place of HttpServer.

From jumpstarter_driver_http/driver_test.py of the 0.9.0 sdist, changed only in the import of
the driver and its class name (`unused_tcp_port`, pytest-asyncio's fixture, is in conftest.py).
The tests that look inside the driver (`runner`, `_bound_port`, `_async_cleanup`) find there
the `volley serve` that serves HTTP, in the place of the aiohttp AppRunner.
"""

import logging

import aiohttp
import pytest

from jumpstarter_driver_volley.driver import VolleyHttp
from jumpstarter.common.utils import serve


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def http(tmp_path, unused_tcp_port):
    with serve(VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)) as client:
        client.start()
        try:
            yield client
        finally:
            client.stop()


@pytest.mark.anyio
async def test_http_server(http, tmp_path):
    filename = "test.txt"
    test_content = b"test content"

    (tmp_path / "src").write_bytes(test_content)

    uploaded_url = http.put_file(filename, tmp_path / "src")

    files = list(http.storage.list("/"))
    assert filename in files

    async with aiohttp.ClientSession() as session:
        async with session.get(uploaded_url) as response:
            assert response.status == 200
            retrieved_content = await response.read()
            assert retrieved_content == test_content

    http.storage.delete(filename)

    files_after_deletion = list(http.storage.list("/"))
    assert filename not in files_after_deletion


def test_http_server_host_config(tmp_path):
    custom_host = "192.168.1.1"
    server = VolleyHttp(root_dir=str(tmp_path), host=custom_host)
    assert server.get_host() == custom_host


def test_http_server_root_directory_creation(tmp_path):
    new_dir = tmp_path / "new_http_root"
    _ = VolleyHttp(root_dir=str(new_dir))
    assert new_dir.exists()


@pytest.mark.anyio
async def test_opendal_tracking_on_http_server_close(tmp_path, unused_tcp_port, caplog):
    """Test that OpenDAL driver tracks created files and reports them on close."""
    filename = "tracked_test.txt"
    test_content = b"test content for tracking"

    # Set up logging to capture debug messages
    with caplog.at_level(logging.DEBUG):
        with serve(VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)) as client:
            client.start()

            # Write a file through the HTTP server (which uses OpenDAL internally)
            (tmp_path / "src").write_bytes(test_content)
            client.put_file(filename, tmp_path / "src")

            # Verify the file was written
            files = list(client.storage.list("/"))
            assert filename in files

            # Get the tracking info before close
            created_resources = client.storage.get_created_resources()
            assert filename in created_resources

            client.stop()
        # When exiting the context manager, HttpServer.close() is called,
        # which calls super().close(), which calls OpenDAL.close()

    # The main functionality test is that the file was tracked as created
    # The close() method logging might not be captured due to async cleanup timing
    # but we've verified the tracking works by checking get_created_resources() above


def test_opendal_tracking_methods(tmp_path, unused_tcp_port):
    """Test the OpenDAL tracking export methods directly."""
    with serve(VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)) as client:
        client.start()

        # Initially, no resources should be tracked
        created_resources = client.storage.get_created_resources()
        assert created_resources == set()

        # Write a file (which creates it)
        filename = "direct_test.txt"
        test_content = b"direct test content"
        (tmp_path / "src").write_bytes(test_content)
        client.put_file(filename, tmp_path / "src")

        # Check tracking
        created_resources = client.storage.get_created_resources()
        assert filename in created_resources

        client.stop()


@pytest.mark.anyio
async def test_http_server_close_releases_port(tmp_path, unused_tcp_port):
    """Test that closing the HTTP server properly releases the port for reuse."""
    test_file = tmp_path / "test.txt"
    test_file.write_text("hello")

    # First server session
    with serve(VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)) as client:
        client.start()
        url = client.get_url()
        assert str(unused_tcp_port) in url

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/test.txt") as response:
                assert response.status == 200

        client.stop()

    # Second server session on the same port should not fail with "address already in use"
    with serve(VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)) as client:
        client.start()
        url = client.get_url()
        assert str(unused_tcp_port) in url

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/test.txt") as response:
                assert response.status == 200

        client.stop()


@pytest.mark.anyio
async def test_http_server_port_zero(tmp_path):
    """Test that using port 0 assigns an OS-chosen port."""
    test_file = tmp_path / "test.txt"
    test_file.write_text("hello")

    with serve(VolleyHttp(root_dir=str(tmp_path), port=0)) as client:
        client.start()
        port = client.get_port()
        assert isinstance(port, int), "Port should be an integer"
        assert port > 0, "OS should assign a non-zero port"
        url = client.get_url()
        assert str(port) in url

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/test.txt") as response:
                assert response.status == 200

        client.stop()


@pytest.mark.anyio
async def test_driver_start_stop_direct(tmp_path, unused_tcp_port):
    """Directly exercise driver start/stop to ensure coverage of server lifecycle."""
    server = VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)
    # start the server
    await server.start()
    assert server.runner is not None
    assert server._bound_port == unused_tcp_port

    # get_url / get_port / get_host should reflect the running server
    assert str(unused_tcp_port) in server.get_url()
    assert server.get_port() == unused_tcp_port

    # Verify server is actually listening
    async with aiohttp.ClientSession() as session:
        test_file = tmp_path / "index.html"
        test_file.write_text("ok")
        async with session.get(f"http://{server.host}:{unused_tcp_port}/index.html") as resp:
            assert resp.status == 200

    # stop resets runner and bound_port
    await server.stop()
    assert server.runner is None
    assert server._bound_port == 0


@pytest.mark.anyio
async def test_driver_start_cleans_stale_runner(tmp_path, unused_tcp_port):
    """Starting when a stale runner exists should clean it up and start fresh."""
    server = VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)
    await server.start()
    first_runner = server.runner

    # Simulate calling start() again while a runner is still present.
    # This exercises the stale-runner cleanup path (lines 64-71).
    await server.start()
    assert server.runner is not first_runner
    assert server._bound_port == unused_tcp_port

    await server.stop()


@pytest.mark.anyio
async def test_driver_port_zero_assigns_real_port(tmp_path):
    """Using port=0 should bind to an OS-assigned port."""
    server = VolleyHttp(root_dir=str(tmp_path), port=0)
    await server.start()
    assert server._bound_port > 0
    assert server.get_port() > 0
    url = server.get_url()
    assert str(server._bound_port) in url

    await server.stop()
    assert server._bound_port == 0


@pytest.mark.anyio
async def test_driver_close_with_running_loop(tmp_path, unused_tcp_port):
    """close() from the event loop thread must release the port."""
    server = VolleyHttp(root_dir=str(tmp_path), host="127.0.0.1", port=unused_tcp_port)
    await server.start()
    assert server.runner is not None

    server.close()

    assert server.runner is None
    assert server._bound_port == 0

    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((server.host, unused_tcp_port))
    finally:
        s.close()


@pytest.mark.anyio
async def test_async_cleanup_direct(tmp_path, unused_tcp_port):
    """Directly test _async_cleanup for coverage."""
    server = VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)
    await server.start()
    assert server.runner is not None

    await server._async_cleanup()
    # After cleanup, info log should have been emitted. Verify runner
    # wasn't set to None by _async_cleanup itself (that's close()'s job).
    # _async_cleanup only calls shutdown()/cleanup() on the runner.


@pytest.mark.anyio
async def test_async_cleanup_error_path(tmp_path, unused_tcp_port):
    """Test that _async_cleanup re-raises exceptions."""
    from unittest.mock import AsyncMock, MagicMock

    server = VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)
    await server.start()

    # Replace the runner with a mock so we can make cleanup() raise
    real_runner = server.runner
    mock_runner = MagicMock()
    mock_runner.shutdown = AsyncMock()
    mock_runner.cleanup = AsyncMock(side_effect=RuntimeError("cleanup failed"))
    server.runner = mock_runner

    with pytest.raises(RuntimeError, match="cleanup failed"):
        await server._async_cleanup()

    # Clean up the real runner so the port is released
    await real_runner.cleanup()


@pytest.mark.anyio
async def test_close_cleanup_failure_logs_warning(tmp_path, unused_tcp_port, caplog):
    """Test that close() logs a warning when cleanup fails."""
    from unittest.mock import AsyncMock, MagicMock

    server = VolleyHttp(root_dir=str(tmp_path), port=unused_tcp_port)
    await server.start()

    # Replace the runner with a mock so we can make cleanup() raise
    real_runner = server.runner
    mock_runner = MagicMock()
    mock_runner.shutdown = AsyncMock()
    mock_runner.cleanup = AsyncMock(side_effect=RuntimeError("cleanup boom"))
    server.runner = mock_runner

    # Patch anyio.from_thread.run to simulate calling _async_cleanup
    # and propagating the error
    async def fake_async_cleanup():
        await mock_runner.shutdown()
        await mock_runner.cleanup()

    with caplog.at_level(logging.WARNING):
        server.close()

    # close() should still clear runner and bound_port even on failure
    assert server.runner is None
    assert server._bound_port == 0

    # Clean up the real runner so the port is released
    await real_runner.cleanup()


def test_close_no_runner(tmp_path):
    """close() with no runner should be a no-op."""
    server = VolleyHttp(root_dir=str(tmp_path))
    assert server.runner is None
    server.close()  # Should not raise


def test_opendal_cleanup_on_close(tmp_path):
    """Test that OpenDAL driver can optionally remove created files on close."""
    from jumpstarter_driver_opendal.driver import Opendal

    # Create two separate directories
    cleanup_dir = tmp_path / "cleanup_test"
    no_cleanup_dir = tmp_path / "no_cleanup_test"
    cleanup_dir.mkdir()
    no_cleanup_dir.mkdir()

    # Test files
    cleanup_filename = "cleanup_test.txt"
    no_cleanup_filename = "no_cleanup_test.txt"

    # Test 1: Driver with cleanup enabled
    cleanup_driver = Opendal(
        scheme="fs",
        kwargs={"root": str(cleanup_dir)},
        remove_created_on_close=True
    )

    # Manually create a file to simulate tracking
    cleanup_driver._created_paths.add(cleanup_filename)
    test_file_path = cleanup_dir / cleanup_filename
    test_file_path.write_text("test content")

    # Verify file exists
    assert test_file_path.exists()

    # Close driver (should trigger cleanup)
    cleanup_driver.close()

    # Verify file was removed
    assert not test_file_path.exists(), "File should have been removed by cleanup"

    # Test 2: Driver with cleanup disabled (default)
    no_cleanup_driver = Opendal(
        scheme="fs",
        kwargs={"root": str(no_cleanup_dir)},
        remove_created_on_close=False
    )

    # Manually create a file to simulate tracking
    no_cleanup_driver._created_paths.add(no_cleanup_filename)
    test_file_path2 = no_cleanup_dir / no_cleanup_filename
    test_file_path2.write_text("test content")

    # Verify file exists
    assert test_file_path2.exists()

    # Close driver (should NOT trigger cleanup)
    no_cleanup_driver.close()

    # Verify file still exists
    assert test_file_path2.exists(), "File should remain without cleanup"
