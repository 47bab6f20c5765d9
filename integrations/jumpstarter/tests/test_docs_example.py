"""The examples of the Jumpstarter TFTP driver documentation, verbatim but for the class."""

import doctest
import socket

import pytest

# The documentation of the TFTP driver's file API (jumpstarter docs, api-reference/drivers/tftp.md).
DIRECT_USE = '''
>>> import tempfile
>>> import os
>>> from jumpstarter_driver_volley.driver import Volley
>>> with tempfile.TemporaryDirectory() as tmp_dir:
...     # Create a test file
...     test_file = os.path.join(tmp_dir, "test.txt")
...     with open(test_file, "w") as f:
...         _ = f.write("hello")
...
...     # Start TFTP server
...     tftp = Volley(root_dir=tmp_dir, host="127.0.0.1", port=6969)
...     tftp.start()
...
...     # List files
...     files = tftp.list_files()
...     assert "test.txt" in files
...
...     tftp.stop()
'''

# The example of jumpstarter-driver-tftp 0.9.0's README.
UNDER_SERVE = '''
>>> import tempfile
>>> import os
>>> from jumpstarter_driver_volley.driver import Volley
>>> from jumpstarter.common.utils import serve
>>> with tempfile.TemporaryDirectory() as tmp_dir:
...     # Create a test file
...     test_file = os.path.join(tmp_dir, "test.txt")
...     with open(test_file, "w") as f:
...         _ = f.write("hello")
...
...     # Start TFTP server
...     with serve(Volley(root_dir=tmp_dir, host="127.0.0.1", port=6969)) as tftp:
...         tftp.start()
...
...         # List files
...         files = list(tftp.storage.list("/"))
...         assert "test.txt" in files
...
...         tftp.stop()
'''


def port_6969_free() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 6969))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("example", [DIRECT_USE, UNDER_SERVE], ids=["direct", "serve"])
def test_documentation_example(example):
    if not port_6969_free():
        pytest.skip("127.0.0.1:6969, which the example uses, is taken by another program")
    test = doctest.DocTestParser().get_doctest(example, {}, "example", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0 and runner.tries > 0
