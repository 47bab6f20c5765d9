"""Volley as a Jumpstarter TFTP driver: `jumpstarter_driver_volley.driver.Volley`."""
