from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import click
from jumpstarter_driver_opendal.adapter import OpendalAdapter
from jumpstarter_driver_tftp.client import TftpServerClient
from opendal import Operator

from .errors import error_from_message
from jumpstarter.client.core import DriverError

CHUNK_SIZE = 4 * 1024 * 1024


class RaisesDriverErrors:
    """Client mixin: errors the driver tagged with their class arrive as that class again."""

    def call(self, method, *args):
        try:
            return super().call(method, *args)
        except DriverError as error:
            mapped = error_from_message(str(error))
            if mapped is None:
                raise
            raise mapped from None


@dataclass(kw_only=True)
class VolleyServerClient(RaisesDriverErrors, TftpServerClient):
    """
    Client interface for the Volley TFTP server driver

    The stock TFTP client (start, stop, get_host, get_port, storage) plus the file API of
    the Jumpstarter TFTP documentation: list_files, delete_file, put_file, put_local_file.
    Errors raised by the driver arrive as the driver's classes (TftpError, FileNotFound,
    ServerNotRunning from jumpstarter_driver_volley.driver), not as generic DriverErrors.
    With http_port set, get_url() gives the base URL Volley serves the same root on.
    """

    def get_port(self) -> int:
        """
        Get the port number the TFTP server is listening on (the real one after port 0)

        Returns:
            int: The port number
        """
        # Jumpstarter's transport carries numbers as doubles: the stock client returns 69.0.
        return int(self.call("get_port"))

    def get_url(self) -> str:
        """
        Get the base URL of the HTTP server the same Volley runs (the driver's http_port)

        Returns:
            str: The base URL, e.g. http://192.168.1.100:8080

        Raises:
            TftpError: If the driver serves no HTTP (http_port is not set)
        """
        return self.call("get_url")

    def list_files(self) -> list[str]:
        """
        List files in the TFTP server root directory

        Returns:
            list[str]: The files below the root, as relative paths ("boot/vmlinuz")
        """
        return self.call("list_files")

    def delete_file(self, filename: str) -> str:
        """
        Delete a file from the TFTP server

        Args:
            filename (str): Name of the file to delete

        Raises:
            FileNotFound: If the specified file doesn't exist
            TftpError: If deletion fails for other reasons
        """
        return self.call("delete_file", filename)

    def check_file_checksum(self, filename: str, sha256: str) -> bool:
        """
        Whether the server holds `filename` with this SHA-256 (hexadecimal)
        """
        return self.call("check_file_checksum", filename, sha256)

    def wait_for_transfer(self, path: str, client: str | None = None, timeout: float = 300) -> dict:
        """
        Wait until a client has fetched `path` (a transfer of it that ends after this call)

        For a test that powers a board on, waits until it has fetched its kernel, then reads
        the console. A UEFI size probe does not count; the fetch that follows it does.

        Args:
            path (str): The file as clients ask for it; a glob, as in Volley's rules ("boot/*")
            client (str): Only this client address or CIDR range
            timeout (float): Seconds to wait (default 300)

        Returns:
            dict: The transfer's finished event: client, file, options, bytes, duration_s, ...

        Raises:
            TransferFailed: If the transfer ended without delivering the file
            TransferTimeout: If no transfer of it ended in time
        """
        return self.call("wait_for_transfer", path, client, timeout)

    def transfers(self) -> list[dict]:
        """
        The transfers in flight, oldest first (client, file, started, blksize, windowsize, tsize)
        """
        return self.call("transfers")

    def put_file(self, operator: Operator, path: str, filename: str | None = None) -> str:
        """
        Upload a file from an OpenDAL operator to the TFTP server

        The upload is skipped when the server already holds a file of that name with the
        same SHA-256.

        Args:
            operator: The opendal.Operator the file is read from
            path (str): The file's path in the operator
            filename (str): Name on the server (default: the last component of `path`)

        Returns:
            str: The name of the file on the server
        """
        filename = filename or Path(path).name
        checksum = self._compute_checksum(operator, path)
        if self.check_file_checksum(filename, checksum):
            self.logger.info(f"Skipping upload of identical file: {filename}")
            return filename
        with OpendalAdapter(client=self, operator=operator, path=path, mode="rb") as handle:
            return self.call("put_file", filename, handle, checksum)

    def put_local_file(self, filepath: str, filename: str | None = None) -> str:
        """
        Upload a local file to the TFTP server, unless it already holds an identical one

        Args:
            filepath (str): Path of the local file
            filename (str): Name on the server (default: the local file's name)

        Returns:
            str: The name of the file on the server
        """
        absolute = Path(filepath).resolve()
        operator = Operator("fs", root="/")
        return self.put_file(operator, str(absolute), filename or absolute.name)

    def _compute_checksum(self, operator: Operator, path: str) -> str:
        hasher = hashlib.sha256()
        with operator.open(path, "rb") as f:
            while chunk := f.read(CHUNK_SIZE):
                hasher.update(chunk)
        return hasher.hexdigest()

    def cli(self):
        base = super().cli()

        @base.command()
        def start():
            """Start the TFTP server"""
            self.start()

        @base.command()
        def stop():
            """Stop the TFTP server"""
            self.stop()

        @base.command()
        def address():
            """Print the host and port the server listens on"""
            click.echo(f"{self.get_host()}:{self.get_port()}")

        @base.command(name="list")
        def list_():
            """List the files the server offers"""
            for name in self.list_files():
                click.echo(name)

        @base.command()
        @click.argument("filepath", type=click.Path(exists=True, dir_okay=False))
        @click.option("--name", default=None, help="Name on the server (default: the file's name)")
        def put(filepath, name):
            """Upload a local file (skipped if the server holds an identical one)"""
            click.echo(self.put_local_file(filepath, name))

        @base.command()
        @click.argument("filename")
        def delete(filename):
            """Delete a file from the server"""
            self.delete_file(filename)

        return base
