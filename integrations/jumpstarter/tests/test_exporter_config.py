"""The exporter entry of the README loads through Jumpstarter's own configuration classes."""

from contextlib import ExitStack
from pathlib import Path

import yaml
from anyio.from_thread import start_blocking_portal
from helpers import curl_get, volley_pids

from jumpstarter.client import client_from_path
from jumpstarter.config.exporter import ExporterConfigV1Alpha1, ExporterConfigV1Alpha1DriverInstance
from jumpstarter_driver_volley.client import VolleyServerClient
from jumpstarter_driver_volley.driver import Volley

README_ENTRY = """
export:
  tftp:
    type: jumpstarter_driver_volley.driver.Volley
    config:
      root_dir: /var/lib/tftpboot
      host: 192.168.1.100   # optional: auto-detected as the stock driver does
      port: 69
"""


def exporter_yaml(root: Path) -> str:
    entry = yaml.safe_load(README_ENTRY)
    entry["export"]["tftp"]["config"].update(root_dir=str(root), host="127.0.0.1", port=0)
    document = {
        "apiVersion": "jumpstarter.dev/v1alpha1",
        "kind": "ExporterConfig",
        "metadata": {"namespace": "default", "name": "volley-test"},
        "endpoint": "",
        "token": "",
        **entry,
    }
    return yaml.safe_dump(document)


def test_readme_entry_instantiates(tmp_path):
    entry = yaml.safe_load(README_ENTRY)["export"]["tftp"]
    entry["config"]["root_dir"] = str(tmp_path / "tftpboot")  # the only change: a writable root
    driver = ExporterConfigV1Alpha1DriverInstance.model_validate(entry).instantiate()
    try:
        assert isinstance(driver, Volley)
        assert (driver.get_host(), driver.get_port()) == ("192.168.1.100", 69)
        assert (tmp_path / "tftpboot").is_dir()
        assert driver.client() == "jumpstarter_driver_volley.client.VolleyServerClient"
        assert set(driver.children) == {"storage"}
    finally:
        driver.close()


def test_auto_detected_host(tmp_path):
    driver = ExporterConfigV1Alpha1DriverInstance.model_validate(
        {"type": "jumpstarter_driver_volley.driver.Volley", "config": {"root_dir": str(tmp_path)}}
    ).instantiate()
    from jumpstarter.common.ipaddr import get_ip_address

    assert driver.get_host() == get_ip_address()
    assert driver.get_port() == 69
    driver.close()


def test_exporter_serves(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "boot.scr").write_bytes(b"boot script")
    config_path = tmp_path / "exporter.yaml"
    config_path.write_text(exporter_yaml(root))
    config = ExporterConfigV1Alpha1.load_path(config_path)

    with config.serve_unix() as socket_path:
        with start_blocking_portal() as portal, ExitStack() as stack, portal.wrap_async_context_manager(
            client_from_path(socket_path, portal, stack, allow=[], unsafe=True)
        ) as client:
            tftp = client.tftp
            assert isinstance(tftp, VolleyServerClient)
            tftp.start()
            host, port = tftp.get_host(), tftp.get_port()
            assert host == "127.0.0.1" and port != 0
            result = curl_get(host, port, "boot.scr", tmp_path / "out")
            assert result.returncode == 0
            assert (tmp_path / "out").read_bytes() == b"boot script"
            tftp.storage.write_bytes("created.txt", b"x")
            assert tftp.list_files() == ["boot.scr", "created.txt"]
            pids = volley_pids()
            assert pids
    # The exporter session closed the driver: Volley stopped, created files removed.
    assert not (volley_pids() & pids)
    assert sorted(p.name for p in root.iterdir()) == ["boot.scr"]
