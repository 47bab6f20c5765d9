import os
import shutil

import pytest


@pytest.fixture(scope="session", autouse=True)
def volley_binary():
    """The volley executable under test: $VOLLEY_BINARY (run-tests sets it), else PATH."""
    binary = os.environ.get("VOLLEY_BINARY") or shutil.which("volley")
    if not binary or not os.access(binary, os.X_OK):
        pytest.exit("set VOLLEY_BINARY to the volley executable under test", returncode=2)
    os.environ["VOLLEY_BINARY"] = binary
    return binary


@pytest.fixture
def anyio_backend():
    return "asyncio"
