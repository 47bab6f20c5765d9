from dataclasses import dataclass

from jumpstarter_driver_http.client import HttpServerClient

from .client import RaisesDriverErrors


@dataclass(kw_only=True)
class VolleyHttpClient(RaisesDriverErrors, HttpServerClient):
    """Client for the Volley HTTP server driver

    The stock HTTP client (start, stop, get_url, get_host, get_port, put_file returning the
    file's URL, storage); errors the driver raises arrive as its classes (HttpServerError
    from jumpstarter_driver_volley.driver), not as generic DriverErrors.
    """
